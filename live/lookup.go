package live

// Session returns the live session of objectID, running or ended, and
// whether there is one.
func (h *Hub) Session(objectID string) (Session, bool) { return h.liveSession(objectID) }
