/**
 * Stage deadlines of a connection, on top of each read's own (idle) time limit. A read's own
 * limit runs from the start of that read, so a client sending one byte every few seconds
 * never hits it while a literal or a message body is streamed chunk by chunk, nor while it
 * sends one command after another without logging in; a stage deadline is a fixed point in
 * time that every read of the stage ends at, however the bytes trickle in.
 */

/**
 * 'login': from connecting until authenticated (`limits.loginTimeoutMs`); 'command': from a
 * command line until the last byte of what it brings along (an IMAP literal, an SMTP DATA
 * body) arrived (`limits.commandTimeoutMs`).
 */
export type DeadlineStage = 'login' | 'command';

export class StageDeadlines {
  /** Absolute times (Date.now()) per stage. */
  private readonly at = new Map<DeadlineStage, number>();

  /** The stage ends `ms` from now (replacing its earlier deadline). */
  set(stage: DeadlineStage, ms: number): void {
    this.at.set(stage, Date.now() + ms);
  }

  has(stage: DeadlineStage): boolean {
    return this.at.has(stage);
  }

  /** The stage is over (logged in; the command's data all arrived). */
  clear(stage: DeadlineStage): void {
    this.at.delete(stage);
  }

  /**
   * A read's own time limit (undefined: none) shortened to the earliest deadline, and the
   * stage whose deadline that is (null: the read's own limit stands).
   */
  limit(timeoutMs: number | undefined): { ms: number | undefined; stage: DeadlineStage | null } {
    if (this.at.size === 0) return { ms: timeoutMs, stage: null };
    const now = Date.now();
    let ms = timeoutMs ?? Infinity;
    let stage: DeadlineStage | null = null;
    for (const [s, at] of this.at) {
      if (at - now < ms) {
        ms = at - now;
        stage = s;
      }
    }
    return { ms: ms === Infinity ? undefined : ms, stage };
  }
}
