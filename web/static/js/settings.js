// settings.js holds the viewer's settings, remembered in localStorage, and
// turns the block lists into a filter.

import { kindOf } from './renderer.js';

const KEY = 'danmakud.settings.v1';

// AREAS are the display areas a viewer may choose: the share of the
// picture's height, from the top, that danmaku may use.
export const AREAS = [0.25, 0.5, 0.75, 1];

// KINDS are the modes a viewer may block.
export const KINDS = ['scroll', 'top', 'bottom', 'reverse'];

// defaults returns the settings of a new viewer.
export function defaults() {
  return {
    enabled: true,
    opacity: 1,
    speed: 1,
    fontScale: 1,
    area: 1,
    density: 0, // Most danmaku on screen; 0 is no cap.
    overlap: false, // Stack danmaku over each other when every lane is busy.
    blockKeywords: [],
    blockRegex: [],
    blockUsers: [],
    blockModes: [],
  };
}

function clamp(v, lo, hi, dflt) {
  const n = Number(v);
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : dflt;
}

function strings(v, max = 200) {
  if (!Array.isArray(v)) return [];
  return v.filter((s) => typeof s === 'string' && s.trim() !== '').map((s) => s.trim().slice(0, max)).slice(0, 500);
}

// normalize returns s with every field present and in range.
export function normalize(s) {
  const d = defaults();
  s = s && typeof s === 'object' ? s : {};
  return {
    enabled: typeof s.enabled === 'boolean' ? s.enabled : d.enabled,
    opacity: clamp(s.opacity, 0.1, 1, d.opacity),
    speed: clamp(s.speed, 0.25, 4, d.speed),
    fontScale: clamp(s.fontScale, 0.5, 2, d.fontScale),
    area: AREAS.includes(Number(s.area)) ? Number(s.area) : d.area,
    density: Math.round(clamp(s.density, 0, 5000, d.density)),
    overlap: typeof s.overlap === 'boolean' ? s.overlap : d.overlap,
    blockKeywords: strings(s.blockKeywords),
    blockRegex: strings(s.blockRegex),
    blockUsers: strings(s.blockUsers),
    blockModes: strings(s.blockModes).filter((k) => KINDS.includes(k)),
  };
}

// load returns the remembered settings, or the defaults.
export function load(storage = window.localStorage) {
  try {
    return normalize(JSON.parse(storage.getItem(KEY) || '{}'));
  } catch {
    return defaults();
  }
}

// save remembers s.
export function save(s, storage = window.localStorage) {
  try {
    storage.setItem(KEY, JSON.stringify(normalize(s)));
  } catch {
    // Storage may be full or disabled; the settings then last for the page.
  }
}

// compileFilter returns a function that tells whether an item is blocked
// by s, and the regular expressions that did not compile.
export function compileFilter(s) {
  const words = s.blockKeywords.map((w) => w.toLowerCase());
  const users = new Set(s.blockUsers);
  const kinds = new Set(s.blockModes);
  const regexes = [];
  const invalid = [];
  for (const src of s.blockRegex) {
    try {
      regexes.push(new RegExp(src, 'iu'));
    } catch {
      invalid.push(src);
    }
  }
  const blocked = (it) => {
    if (kinds.has(kindOf(it.mode))) return true;
    if (users.has(it.userId)) return true;
    const text = it.text.toLowerCase();
    for (const w of words) if (text.includes(w)) return true;
    for (const re of regexes) if (re.test(it.text)) return true;
    return false;
  };
  return { blocked, invalid };
}
