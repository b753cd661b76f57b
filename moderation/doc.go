// Package moderation decides what happens to a danmaku before it is stored:
// sensitive words (Filter, with a Matcher over Normalize'd text), bans
// (BanList) and rate limits (Limiter). Each has a small interface
// (WordList, Bans, RateLimiter) with an in-memory implementation here, so
// that a shared one (Redis) can replace it. LoginLimiter throttles admin
// sign-in per address and in total. These are working copies: the durable
// record of words, bans, pauses and slow modes is a danmaku.SettingsStore
// (records.go converts to and from its records, Guard.Restore puts stored
// words and bans in force, and Guard.ApplyRoom a room's whole settings,
// as a danmaku.RoomApplier that service.Rooms drives).
//
// Bans name a user or an address range (Ban.Addr, checked through
// AddrChecker). Guard.BanUser follows a ban of an anonymous id to the
// address group it was last seen from (AddrGroups: /32 and /64 by
// default), and Guard limits a sender without a cookie (Actor.Fresh) by
// that group, as tightly as a cookie holder by its id.
//
// Matching is meant to catch what a user would read as the word: texts and
// listed words pass through the same Normalizer (compatibility forms,
// width, case, accents, TR39 confusables, letter forms, leetspeak,
// invisible characters), repeated letters fold, Latin words match whole
// words (or inside words with Rule.Inside), and CJK words match anywhere,
// also with one inserted character. FoldKey gives the live tick the same
// canonical form to fold repeats on.
//
// The send pipeline is expected to check, in order: the ban list
// (Bans.Check, then the configured BanMode), the limits (RateLimiter.Allow,
// whose error is ERATELIMIT with RetryAfter), and the words
// (WordList.Check: Reject gives an EREFUSED error that does not name the
// word, Shadow stores the danmaku as shadowed, Mask stores Verdict.Text).
package moderation
