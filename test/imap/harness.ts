/**
 * An IMAP server for tests: a real store in a temporary folder, the plain (STARTTLS) and the
 * implicit-TLS listener, a fixed-password Authenticator, and a raw client that speaks tagged
 * commands and collects the untagged lines before each completion.
 */
import type { WharfConfig } from '../../src/config/types.js';
import { createImapHandler } from '../../src/imap/index.js';
import { RawSocket } from '../helpers/raw-socket.js';
import { testConfig as baseTestConfig, type DeepPartial } from '../helpers/service.js';
import { DOMAIN, startMailHarness, type MailHarness } from '../helpers/mail-harness.js';

export { DOMAIN };

export type ImapHarness = MailHarness;

export function startImapHarness(overrides: DeepPartial<WharfConfig> = {}): Promise<ImapHarness> {
  return startMailHarness({
    names: ['imap', 'imaps'],
    config: (dataDir) =>
      baseTestConfig(dataDir, { auth: { allowInsecure: false, defaultDomain: DOMAIN }, authThrottle: { maxDelayMs: 50 }, ...overrides }),
    handler: createImapHandler,
    internalDate: new Date('2024-03-01T10:00:00Z'),
  });
}

/** A simple message with CRLF line endings. */
export function textMessage(subject: string, body = 'Hello.\r\n', extra = ''): string {
  return `From: Alice <alice@example.net>\r\nTo: bob@${DOMAIN}\r\nSubject: ${subject}\r\nDate: Fri, 1 Mar 2024 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.net>\r\n${extra}\r\n${body}`;
}

export interface Completion {
  /** Untagged lines (and literal bytes, inlined as latin1) before the tagged line. */
  untagged: string[];
  /** The tagged line, e.g. "a1 OK [READ-WRITE] SELECT completed". */
  tagged: string;
}

/** A raw IMAP client reading bytes exactly; literals are read by their announced size. */
export class ImapClient extends RawSocket {
  private tagCounter = 0;

  static connect(port: number, useTls = false): Promise<ImapClient> {
    return ImapClient.open(port, useTls);
  }

  /** One response line with any literals it announces inlined (as latin1). */
  async readResponse(timeoutMs = 10_000): Promise<string> {
    let out = '';
    for (;;) {
      const line = (await this.until(Buffer.from('\n'), timeoutMs)).toString('latin1');
      out += line;
      const literal = /~?\{(\d+)\}\r\n$/.exec(line);
      if (!literal) return out.replace(/\r\n$/, '');
      out += (await this.bytes(Number(literal[1]), timeoutMs)).toString('latin1');
    }
  }

  /** Reads until the tagged completion of `tag`. */
  async complete(tag: string, timeoutMs = 10_000): Promise<Completion> {
    const untagged: string[] = [];
    for (;;) {
      const line = await this.readResponse(timeoutMs);
      if (line.startsWith(`${tag} `)) return { untagged, tagged: line };
      untagged.push(line);
    }
  }

  /** Sends `<tag> <text>` and waits for its completion. */
  async command(text: string, timeoutMs?: number): Promise<Completion & { tag: string }> {
    const tag = `t${++this.tagCounter}`;
    this.send(`${tag} ${text}\r\n`);
    return { tag, ...(await this.complete(tag, timeoutMs)) };
  }

  /** Greeting, then LOGIN. */
  async login(user: string, password: string): Promise<void> {
    await this.readResponse();
    const r = await this.command(`LOGIN ${user} ${password}`);
    if (!/^t\d+ OK/.test(r.tagged)) throw new Error(`login failed: ${r.tagged}`);
  }

}
