import type { Command } from 'commander';
import { loadConfig, type ConfigOptions } from '../config/load.js';
import { createLogger } from '../net/log.js';
import type { Logger } from '../net/types.js';
import { addConfigOptions } from './common.js';
import { tuneHeapForServing } from './heap.js';

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Runs the server until SIGTERM or SIGINT, then shuts down cleanly: sessions finish their
 * transactions and say goodbye, the store is closed, and the exit code is 0. A second
 * signal while shutting down exits at once (an operator pressing Ctrl-C twice means it).
 * SIGHUP re-reads the TLS certificates (a renewed certificate is taken without a restart).
 */
export async function serve(options: ConfigOptions): Promise<void> {
  const config = await loadConfig({ options });
  // Every line names the node it comes from: several nodes behind one load balancer log to one place.
  const log = createLogger({ level: config.logLevel, fields: { nodeId: config.nodeId } });
  installCrashHandlers(log);
  // Listening for signals before starting: one that arrives mid-start stops the server
  // cleanly once it is up, instead of killing it with the store half open.
  let received: string | null = null;
  const signalled = new Promise<string>((resolve) => {
    for (const name of SIGNALS) {
      process.on(name, () => {
        if (received) {
          log.warn('second signal: exiting without waiting for sessions', { signal: name });
          process.exit(1);
        }
        received = name;
        resolve(name);
      });
    }
  });
  // Installed before starting: SIGHUP's default action would end the process.
  let reloadTls: (() => Promise<void>) | null = null;
  process.on('SIGHUP', () => {
    if (!reloadTls) return log.warn('SIGHUP before the server is ready: certificates not reloaded');
    void reloadTls();
  });
  log.info('starting', { dataDir: config.dataDir, store: config.store.kind, host: config.host, hostname: config.hostname });
  // Before the server's code loads, so its first allocations already follow them.
  tuneHeapForServing();
  // Loaded here, not at the top: the admin commands need none of the protocol code.
  const { startServer } = await import('../server.js');
  const server = await startServer(config, log);
  log.info('ready', { ports: server.ports });
  reloadTls = () =>
    server.reloadTls().then(
      (certificates) => log.info('tls certificates reloaded', { certificates }),
      (err: unknown) =>
        log.error('tls certificates not reloaded; keeping the current ones', { error: err instanceof Error ? err.message : String(err) }),
    );

  const signal = await signalled;
  log.info('shutting down', { signal, graceMs: config.shutdownGraceMs });
  await server.stop();
  log.info('stopped');
}

/** A server must not limp on in an unknown state: log the error and exit non-zero. */
function installCrashHandlers(log: Logger): void {
  process.on('uncaughtException', (err) => {
    log.error('uncaught exception', { error: err.message, stack: err.stack });
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    const err = reason instanceof Error ? reason : new Error(String(reason));
    log.error('unhandled rejection', { error: err.message, stack: err.stack });
    process.exit(1);
  });
}

export function registerServeCommand(program: Command): void {
  addConfigOptions(program.command('serve'))
    .description('run the mail services and the HTTP health endpoints until stopped with SIGTERM or SIGINT')
    .action(async (options: ConfigOptions) => {
      await serve(options);
    });
}
