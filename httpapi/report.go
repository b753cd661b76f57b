package httpapi

import (
	"encoding/json"
	"net/http"

	danmaku "github.com/danmakud/danmakud"
	"github.com/danmakud/danmakud/auth"
	"github.com/danmakud/danmakud/service"
	"github.com/danmakud/danmakud/webapi"
)

// MountReports registers the viewers' reports of danmaku: POST
// /danmu/report, and GET /admin/api/reports for admins and the moderators
// of a room (?room=).
func (s *Server) MountReports(reports *service.Reports) {
	h := &reportHandlers{s: s, reports: reports, admin: &adminHandlers{s: s}}
	s.handleFunc("POST /danmu/report", h.report)
	s.handleFunc("GET /admin/api/reports", h.list)
}

type reportHandlers struct {
	s       *Server
	reports *service.Reports
	admin   *adminHandlers
}

// report takes {"objectId","id","reason"} from a viewer.
func (h *reportHandlers) report(w http.ResponseWriter, r *http.Request) {
	a, err := h.s.auth.Identify(w, r)
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	if a.IP == "" {
		a.IP = auth.RemoteIP(r)
	}
	body, err := h.s.readJSONBody(w, r)
	if err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	var in struct {
		ObjectID string `json:"objectId"`
		ID       string `json:"id"`
		Reason   string `json:"reason"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		webapi.WriteError(w, r, h.s.log, danmaku.Errorf(danmaku.EINVALID, "body: %v", err))
		return
	}
	id, err := danmaku.ParseID(in.ID)
	if err != nil {
		webapi.WriteError(w, r, h.s.log, danmaku.FieldError("id", "must be a danmaku id"))
		return
	}
	if _, err := h.reports.Report(r.Context(), a, in.ObjectID, id, in.Reason); err != nil {
		webapi.WriteError(w, r, h.s.log, err)
		return
	}
	writeJSON(w, map[string]bool{"ok": true})
}

// list answers the kept reports, newest first: every room's for admins,
// one room's (?room=) for its moderators.
func (h *reportHandlers) list(w http.ResponseWriter, r *http.Request) {
	room := r.URL.Query().Get("room")
	if _, ok := h.admin.actor(w, r, room); !ok {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, map[string]any{"data": h.reports.Recent(room, service.ReportsKept)})
}
