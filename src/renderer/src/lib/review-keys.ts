// The review screen's keyboard: one table of keys, read by the key handler, the buttons that show
// their key and the help overlay, so the three never disagree.
import type { PersonVerdict } from '../../../shared/types';

export type ReviewAction = PersonVerdict | 'skip' | 'undo' | 'next' | 'previous' | 'help';

export interface Shortcut {
  action: ReviewAction;
  /** KeyboardEvent.key values; the first is the one shown. */
  keys: readonly string[];
  label: string;
}

export const shortcuts: readonly Shortcut[] = [
  { action: 'a', keys: ['a'], label: 'Prefer A' },
  { action: 'b', keys: ['b'], label: 'Prefer B' },
  { action: 'tie', keys: ['t'], label: 'Tie (kept, not trained on)' },
  { action: 'both-bad', keys: ['x'], label: 'Both bad (dropped)' },
  { action: 'skip', keys: ['s'], label: 'Skip (no verdict)' },
  { action: 'undo', keys: ['u'], label: 'Undo the last verdict' },
  { action: 'next', keys: ['j', 'ArrowDown'], label: 'Next pair' },
  { action: 'previous', keys: ['k', 'ArrowUp'], label: 'Previous pair' },
  { action: 'help', keys: ['?'], label: 'Show these keys' },
];

export const keyOf = (action: ReviewAction): string => shortcuts.find((s) => s.action === action)!.keys[0];

/** Inputs that take no typing: letters pass through to the screen. */
const untyped = new Set(['checkbox', 'radio', 'range', 'button', 'submit', 'reset']);

/** Whether the element with focus uses this key itself: typing in a field, or stepping a radio
 *  group, a slider or a video with the arrows. A ticked checkbox keeps no keys. */
function ownedBy(target: EventTarget | null, key: string): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target.tagName === 'SELECT' || target.tagName === 'TEXTAREA') return true;
  const arrow = key.startsWith('Arrow');
  if (target instanceof HTMLInputElement) return !untyped.has(target.type) || (arrow && (target.type === 'radio' || target.type === 'range'));
  return arrow && target.tagName === 'VIDEO';
}

/** The screen's action for a key press, or null (a modifier held, the focused element's own key, a key it does not use). */
export function actionFor(event: Pick<KeyboardEvent, 'key' | 'ctrlKey' | 'metaKey' | 'altKey' | 'target'>): ReviewAction | null {
  if (event.ctrlKey || event.metaKey || event.altKey || ownedBy(event.target, event.key)) return null;
  return shortcuts.find((s) => s.keys.includes(event.key))?.action ?? null;
}
