package live

// Session returns the running live session of objectID and true, or false
// when none runs (EndLive forgets a session once it has ended).
func (h *Hub) Session(objectID string) (Session, bool) { return h.liveSession(objectID) }
