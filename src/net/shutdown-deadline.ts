/**
 * A session's last resort when its listener shuts down. The session first gets the grace
 * period to finish the command or transfer in flight and say goodbye; a client that keeps it
 * busy past that (a stalled upload, a reader that stopped reading) has its connection
 * destroyed, so shutdown never waits on a client. The timer does not keep the process alive
 * and is cleared once the connection closed on its own.
 */
export function destroyAfterGrace(closed: Promise<unknown>, graceMs: number, destroy: () => void): void {
  const force = setTimeout(destroy, graceMs);
  force.unref();
  void closed.then(
    () => clearTimeout(force),
    () => clearTimeout(force),
  );
}
