// A model folder's chat template, compiled and rendered within limits. The template is code from
// the folder, run by @huggingface/jinja's interpreter in this process: a template looping 10^8
// times or doubling a string forty times would otherwise hang the studio and take gigabytes. The
// interpreter is the library's, with every node it evaluates counted and timed, every value it
// makes measured, and the globals its templates call (range, raise_exception) our own, so that
// range() refuses a list past the limit before making it and raise_exception names the template.
// See docs/families.md (Chat templates).
import { Environment, Interpreter, Template } from '@huggingface/jinja';
import { ApiError } from '../../../shared/errors';

/** A chat template: where it came from (named in errors) and its text. */
export interface ChatTemplateText {
  source: string;
  text: string;
}

/**
 * What one render may do. The published templates of the families need a few thousand steps even
 * for 64 frames and a long chat, a few kilobytes of text and lists as long as the chat: every limit
 * is far above that and far below what hurts. `steps` and `chars`/`items` bound the time (each step
 * works on values within the sizes), `ms` is a backstop should one step still be slow.
 */
export const templateLimits = {
  /** Nodes evaluated (expressions, statements, loop bodies). */
  steps: 200_000,
  /** Wall-clock time of one render. */
  ms: 2_000,
  /** Characters of any string the template makes, its output included; also of the template itself. */
  chars: 1 << 20,
  /** Items of any list or mapping the template makes, a range() included. */
  items: 1 << 16,
} as const;

/** A limit the render went past; `what` says which, in words. */
class LimitError extends Error {}

/** The template's own raise_exception(message). */
class RaisedError extends Error {}

type RuntimeValue = ReturnType<Interpreter['evaluate']>;
type Node = Parameters<Interpreter['evaluate']>[0];
type Program = Template['parsed'];

const count = (n: number) => n.toLocaleString('en-US');

/** Python's range(), refusing a list longer than the limit before making it. */
function boundedRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (![start, stop, step].every(Number.isInteger)) throw new Error('range() takes integers');
  if (step === 0) throw new Error('range() step must not be zero');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  if (n > templateLimits.items) throw new LimitError(`range() of ${count(n)} items (at most ${count(templateLimits.items)})`);
  return Array.from({ length: n }, (_, i) => start + i * step);
}

/** strftime_now(format): the library's own, which it does not export (%Y %m %d %b %B %H %M %%). */
function strftimeNow(format: string): string {
  const date = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const month = (style: 'long' | 'short') => new Intl.DateTimeFormat(undefined, { month: style }).format(date);
  const fields: Record<string, () => string> = {
    '%Y': () => String(date.getFullYear()), '%m': () => pad(date.getMonth() + 1), '%d': () => pad(date.getDate()),
    '%b': () => month('short'), '%B': () => month('long'), '%H': () => pad(date.getHours()), '%M': () => pad(date.getMinutes()), '%%': () => '%',
  };
  return String(format).replace(/%[YmdbBHM%]/g, (token) => fields[token]());
}

/** The globals @huggingface/jinja gives every template (its setupGlobals), with range and raise_exception bounded and named. */
function globals(): Environment {
  const env = new Environment();
  for (const [name, value] of [['false', false], ['true', true], ['none', null], ['False', false], ['True', true], ['None', null]] as const) env.set(name, value);
  env.set('raise_exception', (message: unknown) => {
    throw new RaisedError(String(message));
  });
  env.set('range', boundedRange);
  env.set('strftime_now', strftimeNow);
  return env;
}

/** Filters whose arguments set the size of what they write (indent's width, tojson's indent): their
 *  numbers are checked against the string limit before the filter runs. */
const sizingFilters = new Set(['indent', 'tojson']);

/** The library's interpreter, counting, timing and measuring every node it evaluates. */
class BoundedInterpreter extends Interpreter {
  private steps = 0;
  private readonly deadline = performance.now() + templateLimits.ms;
  /** Argument nodes of sizing filters met so far. */
  private readonly sizing = new WeakSet<object>();

  override evaluate(statement: Node, environment: Environment): RuntimeValue {
    this.steps += 1;
    if (this.steps > templateLimits.steps) throw new LimitError(`more than ${count(templateLimits.steps)} steps`);
    if ((this.steps & 1023) === 0 && performance.now() > this.deadline) throw new LimitError(`more than ${templateLimits.ms / 1000} s`);
    if (statement?.type === 'FilterExpression') this.noteSizing(statement as unknown as FilterNode);
    const value = super.evaluate(statement, environment);
    const v: unknown = value.value;
    if (typeof v === 'string' && v.length > templateLimits.chars) throw new LimitError(`a string of ${count(v.length)} characters (at most ${count(templateLimits.chars)})`);
    if (Array.isArray(v) && v.length > templateLimits.items) throw new LimitError(`a list of ${count(v.length)} items (at most ${count(templateLimits.items)})`);
    if (v instanceof Map && v.size > templateLimits.items) throw new LimitError(`a mapping of ${count(v.size)} items (at most ${count(templateLimits.items)})`);
    if (typeof v === 'number' && statement !== undefined && this.sizing.has(statement) && v > templateLimits.chars) {
      throw new LimitError(`a width of ${count(v)} (at most ${count(templateLimits.chars)})`);
    }
    return value;
  }

  private noteSizing(node: FilterNode): void {
    const filter = node.filter;
    if (filter.type !== 'CallExpression' || !sizingFilters.has(filter.callee?.value ?? '')) return;
    for (const arg of filter.args ?? []) this.sizing.add(arg.type === 'KeywordArgumentExpression' && arg.value ? arg.value : arg);
  }
}

/** The parts of a FilterExpression node noteSizing reads. */
interface FilterNode {
  filter: { type: string; callee?: { value?: string }; args?: { type: string; value?: object }[] };
}

/** One line of at most 300 characters: what a template's own message becomes in ours. */
const oneLine = (text: string) => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
};

/** A chat template parsed once, rendered as often as asked, each render within templateLimits. */
export class CompiledChatTemplate {
  private constructor(
    readonly template: ChatTemplateText,
    private readonly program: Program,
  ) {}

  /** Parses the template; one longer than the string limit or that does not parse is refused, naming its file. */
  static compile(template: ChatTemplateText): CompiledChatTemplate {
    const { source, text } = template;
    if (text.length > templateLimits.chars) {
      throw new ApiError('bad_input', `${source}: the chat template is ${count(text.length)} characters long (at most ${count(templateLimits.chars)})`, { file: source });
    }
    try {
      return new CompiledChatTemplate(template, new Template(text).parsed);
    } catch (err) {
      // The library's parser reads past its last token on a tag or expression left open (a TypeError
      // of its own, "Cannot read properties of undefined"), rather than saying so.
      const why = err instanceof TypeError ? 'a tag or expression is left unfinished' : oneLine((err as Error).message);
      throw new ApiError('bad_input', `the chat template in ${source} does not parse: ${why}`, { file: source });
    }
  }

  /**
   * The template's text for `context` (messages, add_generation_prompt, special tokens). Errors name
   * the template's file: a limit gone past, its own raise_exception, or anything else it failed on
   * (`chat` says what it was rendering).
   */
  render(context: Record<string, unknown>, chat: string): string {
    const { source } = this.template;
    const env = globals();
    for (const [name, value] of Object.entries(context)) env.set(name, value);
    try {
      const out = new BoundedInterpreter(env).run(this.program).value;
      return String(out);
    } catch (err) {
      const message = oneLine(err instanceof Error ? err.message : String(err));
      if (err instanceof RaisedError) throw new ApiError('bad_input', `${source}: the chat template raised an error: ${message}`, { file: source });
      if (err instanceof LimitError) throw new ApiError('bad_input', `${source}: the chat template went past a rendering limit on ${chat}: ${message}`, { file: source });
      throw new ApiError('bad_input', `the chat template in ${source} failed on ${chat}: ${message}`, { file: source });
    }
  }
}
