package httpapi

import (
	"errors"
	"net/http"
	"strings"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/format/ass"
	"github.com/danmakud/danmakud/format/bilibili"
	"github.com/danmakud/danmakud/webapi"
)

// maxImportBytes caps an uploaded danmaku file.
const maxImportBytes = 64 << 20

// MountFormats registers the exports (Bilibili XML, ASS subtitles), which
// read through the service, and the moderators' import of Bilibili XML into
// store.
func (s *Server) MountFormats(store danmaku.Store) {
	s.handleFunc("GET /danmu/export/{file}", s.export)
	s.handleFunc("POST /admin/api/import/{objectId}", func(w http.ResponseWriter, r *http.Request) {
		s.importXML(w, r, store)
	})
}

// export answers /danmu/export/{objectId}.xml and .ass, with session= of
// one live session only. An export is public: it reads the video through
// the service as the zero Actor, so that shadowed danmaku are left out
// whoever asks.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	objectID, format, ok := strings.Cut(file, ".")
	if !ok || (format != "xml" && format != "ass") {
		webapi.WriteError(w, r, s.log, danmaku.Errorf(danmaku.ENOTFOUND, "export as {objectId}.xml (Bilibili XML) or {objectId}.ass (ASS subtitles)"))
		return
	}
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	sc, err := s.scope(r, objectID)
	if err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	if sc.Session() != "" {
		file = objectID + "-" + sc.Session() + "." + format // The ids hold no quote.
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", `inline; filename="`+file+`"`)
	items := s.svc.ReadAllIn(r.Context(), danmaku.Actor{}, objectID, sc)
	switch format {
	case "xml":
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		err = bilibili.Export(w, items, bilibili.Header{ChatID: objectID})
	case "ass":
		w.Header().Set("Content-Type", "text/x-ssa; charset=utf-8")
		_, err = ass.Export(w, items, ass.Options{})
	}
	if err != nil {
		// Part of the body may be out already; the log keeps the cause.
		s.log.Error("export", "objectId", objectID, "format", format, "err", err)
	}
}

// importXML stores an uploaded Bilibili XML file in a room; moderators of
// the room and admins may.
func (s *Server) importXML(w http.ResponseWriter, r *http.Request, store danmaku.Store) {
	objectID := r.PathValue("objectId")
	if err := danmaku.ValidateObjectID(objectID); err != nil {
		webapi.WriteError(w, r, s.log, err)
		return
	}
	a, err := s.auth.Authenticate(r)
	if err != nil || !a.CanModerate(objectID) {
		webapi.WriteError(w, r, s.log, danmaku.Errorf(danmaku.EFORBIDDEN, "importing needs the admin role or a moderator of the room"))
		return
	}
	stats, err := bilibili.Import(r.Context(), store, objectID, http.MaxBytesReader(w, r.Body, maxImportBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			webapi.WriteError(w, r, s.log, danmaku.Errorf(danmaku.ETOOLARGE, "the file is larger than %d MB (imported %d before stopping)", maxImportBytes>>20, stats.Imported))
			return
		}
		webapi.WriteError(w, r, s.log, danmaku.Errorf(danmaku.EINVALID, "import stopped after %d danmaku: %v", stats.Imported, err))
		return
	}
	writeJSON(w, stats)
}
