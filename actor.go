package danmaku

import "slices"

// Role is what an actor may do. The zero Role is RoleViewer.
type Role uint8

// Roles, from least to most powerful.
const (
	RoleViewer    Role = iota // Sends and deletes their own danmaku.
	RoleModerator             // Also moderates the rooms listed in Actor.Rooms.
	RoleAdmin                 // Everything, everywhere.
)

// String returns "viewer", "moderator" or "admin".
func (r Role) String() string {
	switch r {
	case RoleModerator:
		return "moderator"
	case RoleAdmin:
		return "admin"
	}
	return "viewer"
}

// Actor is who makes a request, as authentication established it. The zero
// Actor is an unidentified viewer. Every live viewer holds one, so the
// small fields come last, where they pack into one word.
type Actor struct {
	UserID string
	Rooms  []string // Rooms a moderator moderates.
	IP     string   // Remote address, for per-IP limits.
	Role   Role
	// Anonymous is set when the id is a signed anonymous browser id.
	Anonymous bool
	// Fresh marks an anonymous id minted for this request: the client
	// sent no cookie, so limits apply to its address instead of the id.
	Fresh bool
}

// CanModerate reports whether a may moderate the room objectID.
func (a Actor) CanModerate(objectID string) bool {
	switch a.Role {
	case RoleAdmin:
		return true
	case RoleModerator:
		return slices.Contains(a.Rooms, objectID)
	}
	return false
}
