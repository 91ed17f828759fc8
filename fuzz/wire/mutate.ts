/**
 * Mutations of a recorded session, each a thing a broken or hostile client does: steps
 * dropped, repeated, swapped or cut short; an argument made huge, empty or binary; a literal or
 * BDAT chunk announcing the wrong size; bits flipped; line ends changed or missing; a write split
 * at odd places or trickled a byte at a time; commands from another state injected; the
 * connection dropped half-way.
 */
import type { Rng } from '../engine/rng.js';
import { cloneSession, type WireSession, type WireStep } from './session.js';

const LF = Buffer.from('\n');
const CR = Buffer.from('\r');

/** Commands of every protocol, injected out of place. */
const FOREIGN_COMMANDS = [
  'DATA', 'BDAT 10 LAST', 'RCPT TO:<a@b>', 'MAIL FROM:<>', 'STARTTLS', 'AUTH PLAIN', 'AUTH LOGIN', 'RSET', 'QUIT',
  'STLS', 'RETR 999999', 'DELE 0', 'TOP 1 -1', 'UIDL 4294967296', 'APOP x y',
  'a LOGIN', 'b SELECT', 'c FETCH 1:* BODY[]', 'd IDLE', 'DONE', 'e APPEND INBOX {4294967295}', 'f UID SEARCH 1:*:*',
  'g AUTHENTICATE PLAIN', 'h STORE 1 +FLAGS (', 'i FETCH 1 (BODY[1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20])', 'j LIST "" %',
  'PASV', 'EPSV ALL', 'PORT 1,2,3,4,5,6', 'EPRT |2|::1|1|', 'REST -1', 'RETR ../../../../etc/passwd', 'CWD /..', 'ABOR', 'PROT C', 'PBSZ 99999999999',
  '', ' ', '\t', '*',
];

function hugeText(rng: Rng): Buffer {
  const sizes = [1_000, 8_200, 70_000, 1_100_000];
  const n = rng.pick(sizes);
  return Buffer.alloc(n, rng.pick(['A', '(', '{', '"', '%', '\\', '0']));
}

function binaryText(rng: Rng): Buffer {
  const b = rng.bytes(1 + rng.int(300));
  // Bytes a parser trips over more often than random ones.
  for (let i = 0; i < 4; i++) b[rng.int(b.length)] = rng.pick([0, 0x0a, 0x0d, 0xff, 0x7f, 0x22, 0x7b, 0x7d, 0x28, 0x29, 0x5c, 0x80]);
  return b;
}

function oddArgument(rng: Rng): Buffer {
  switch (rng.int(8)) {
    case 0: return hugeText(rng);
    case 1: return Buffer.alloc(0);
    case 2: return binaryText(rng);
    case 3: return Buffer.from(rng.pick(['-1', '0', '4294967296', '18446744073709551616', '99999999999999999999999', '1e9', '0x10', 'NaN']));
    case 4: return Buffer.from(rng.pick(['%s%s%n', '${jndi:x}', '../../..', '\u0000', '"unterminated', '{5}\r\nab', '{999999999}', '{3+}', '()', '(((((((((()', '*', '1:*,*:1,4294967295']));
    case 5: return Buffer.from('(' .repeat(500 + rng.int(5000)));
    case 6: return Buffer.from(Array.from({ length: 200 + rng.int(2000) }, (_, i) => `${i + 1}`).join(','));
    default: return Buffer.from('ü€\u{1F600}'.repeat(1 + rng.int(50)), 'utf8');
  }
}

/** A step's bytes that mutations of its content touch. */
function contentOf(step: WireStep): 'text' | 'data' | 'command' {
  return step.kind === 'ftpData' && step.command ? 'command' : 'text';
}

type Mutation = (s: WireSession, rng: Rng) => string | null;

const mutations: Mutation[] = [
  function dropStep(s, rng) {
    if (s.steps.length < 2) return null;
    const i = rng.int(s.steps.length);
    s.steps.splice(i, 1);
    return `drop step ${i}`;
  },
  function duplicateStep(s, rng) {
    const i = rng.int(s.steps.length);
    const times = rng.chance(0.2) ? 20 : 1;
    for (let k = 0; k < times; k++) s.steps.splice(i, 0, cloneSession({ ...s, steps: [s.steps[i]!] }).steps[0]!);
    return `repeat step ${i} ×${times + 1}`;
  },
  function swapSteps(s, rng) {
    if (s.steps.length < 2) return null;
    const i = rng.int(s.steps.length - 1);
    const j = rng.chance(0.5) ? i + 1 : rng.int(s.steps.length);
    [s.steps[i], s.steps[j]] = [s.steps[j]!, s.steps[i]!];
    return `swap steps ${i} and ${j}`;
  },
  function truncateLine(s, rng) {
    const i = rng.int(s.steps.length);
    const st = s.steps[i]!;
    const field = contentOf(st);
    const b = st[field]!;
    if (b.length === 0) return null;
    st[field] = b.subarray(0, rng.int(b.length));
    if (rng.chance(0.3)) st.eol = Buffer.alloc(0);
    return `truncate step ${i} to ${st[field]!.length} bytes`;
  },
  function replaceArgument(s, rng) {
    const i = rng.int(s.steps.length);
    const st = s.steps[i]!;
    const field = contentOf(st);
    const text = st[field]!.toString('latin1');
    const words = text.split(' ');
    const w = words.length > 1 ? 1 + rng.int(words.length - 1) : 0;
    const arg = oddArgument(rng);
    const before = Buffer.from(words.slice(0, w).join(' ') + (w > 0 ? ' ' : ''), 'latin1');
    const after = Buffer.from(w + 1 < words.length ? ' ' + words.slice(w + 1).join(' ') : '', 'latin1');
    st[field] = Buffer.concat([before, arg, after]);
    return `step ${i}: argument ${w} replaced by ${arg.length} bytes`;
  },
  function wrongSize(s, rng) {
    const sized = s.steps.map((st, i) => [st, i] as const).filter(([st]) => st.kind === 'sized');
    if (sized.length === 0) {
      // Put a literal where none belongs: a line that announces data it never sends, or does.
      const i = rng.int(s.steps.length);
      const st = s.steps[i]!;
      st.text = Buffer.concat([st.text, Buffer.from(rng.pick([' {10}', ' {0}', ' {4294967296}', ' {5+}', ' ~{3}', ' {-1}']))]);
      return `step ${i}: a literal announced`;
    }
    const [st, i] = rng.pick(sized);
    const n = st.data!.length;
    st.announced = String(rng.pick([0, n - 1, n + 1, n * 1000, 2 ** 32, 2 ** 31 - 1, 2 ** 53, -1]));
    if (rng.chance(0.2)) st.announced = rng.pick(['', 'x', '1 1', '+', '00000000000000000000001']);
    return `step ${i}: size ${st.announced} announced for ${n} bytes`;
  },
  function flipBytes(s, rng) {
    const i = rng.int(s.steps.length);
    const st = s.steps[i]!;
    const field = rng.chance(0.3) && st.data ? 'data' : contentOf(st);
    const b = Buffer.from(st[field]!);
    if (b.length === 0) return null;
    const n = 1 + rng.int(4);
    for (let k = 0; k < n; k++) {
      const at = rng.int(b.length);
      b[at] = rng.chance(0.5) ? b[at]! ^ (1 << rng.int(8)) : rng.pick([0, 0x0a, 0x0d, 0x20, 0xff, 0x7b]);
    }
    st[field] = b;
    return `step ${i}: ${n} bytes of ${field} flipped`;
  },
  function changeLineEnd(s, rng) {
    const i = rng.int(s.steps.length);
    const st = s.steps[i]!;
    const choice = rng.int(4);
    st.eol = [LF, CR, Buffer.alloc(0), Buffer.from('\r\r\n')][choice]!;
    return `step ${i}: line end ${JSON.stringify(st.eol.toString())}`;
  },
  function splitWrites(s, rng) {
    const i = rng.int(s.steps.length);
    const st = s.steps[i]!;
    const len = st.text.length + st.eol.length;
    if (len < 2) return null;
    st.delivery = { kind: 'split', at: Array.from({ length: 1 + rng.int(4) }, () => 1 + rng.int(len - 1)).sort((a, b) => a - b) };
    return `step ${i}: written in pieces at ${st.delivery.at.join(',')}`;
  },
  function trickle(s, rng) {
    const i = rng.int(s.steps.length);
    const st = s.steps[i]!;
    if (st.text.length > 300) return null;
    st.delivery = { kind: 'trickle', gapMs: 1 + rng.int(30) };
    return `step ${i}: trickled, ${st.delivery.gapMs} ms per byte`;
  },
  function injectForeign(s, rng) {
    const i = rng.int(s.steps.length + 1);
    const text = Buffer.from(rng.pick(FOREIGN_COMMANDS));
    s.steps.splice(i, 0, { kind: 'line', text, eol: Buffer.from('\r\n'), delivery: { kind: 'whole' } });
    return `inject ${JSON.stringify(text.toString())} at ${i}`;
  },
  function hangUpEarly(s, rng) {
    const keep = rng.int(s.steps.length);
    s.steps.length = keep;
    return `hang up after ${keep} steps`;
  },
  function pipelineAll(s) {
    // Everything at once, without waiting for any reply.
    const bytes = Buffer.concat(s.steps.flatMap((st) => [st.text, st.eol, st.data ?? Buffer.alloc(0), st.then ?? Buffer.alloc(0)]));
    s.steps = [{ kind: 'raw', text: bytes, eol: Buffer.alloc(0), delivery: { kind: 'whole' } }];
    return 'pipeline every step in one write';
  },
];

/** A mutated copy of `recorded`: one to three mutations. */
export function mutate(recorded: WireSession, rng: Rng): WireSession {
  const s = cloneSession(recorded);
  const n = 1 + rng.int(3);
  for (let k = 0; k < n && s.steps.length > 0; k++) {
    const m = rng.pick(mutations);
    const what = m(s, rng);
    if (what) s.mutations.push(what);
  }
  return s;
}
