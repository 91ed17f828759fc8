/**
 * SSH user authentication (RFC 4252) for SFTP: passwords (the "password" method, and
 * "keyboard-interactive" with one password prompt, which some clients prefer) go through the
 * shared Authenticator, so guessing is throttled across every protocol and node; public keys
 * are the user's keys in the store. Offering a key that is not registered is what clients do
 * with every key they hold, so it is not a failed login; a signature that does not verify
 * with a registered key is, and ends the connection.
 */
import ssh2 from 'ssh2';
import type { AuthContext, KeyboardAuthContext, PasswordAuthContext, PublicKeyAuthContext } from 'ssh2';
import { resolveLoginName } from '../net/authenticator.js';
import type { Connection, ServiceContext } from '../net/types.js';
import type { SshKey } from '../store/types.js';

/** What the methods offered after a failure are. */
const METHODS: Array<'password' | 'publickey' | 'keyboard-interactive'> = ['publickey', 'password', 'keyboard-interactive'];
/** Failed password attempts on one connection before it is closed (OpenSSH's MaxAuthTries). */
export const MAX_PASSWORD_FAILURES = 6;
/** Keys one connection may offer; an agent with many keys offers each in turn. */
export const MAX_KEY_OFFERS = 20;

export interface LoggedInUser {
  userId: number;
  address: string;
  method: 'password' | 'keyboard-interactive' | 'publickey';
}

/** The store's SSH keys of a user (empty for an unknown user). */
export type SshKeyLookup = (address: string) => Promise<SshKey[]>;

export class LoginGate {
  private passwordFailures = 0;
  private keyOffers = 0;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly conn: Connection,
    private readonly sshKeys: SshKeyLookup,
    /** Called with the user once a method succeeded. */
    private readonly onLogin: (user: LoggedInUser) => void,
    /** Ends the connection (too many failures, a forged signature). */
    private readonly onGiveUp: (reason: string) => void,
  ) {}

  handle(auth: AuthContext): void {
    const done = (p: Promise<void>) =>
      p.catch((err: unknown) => {
        this.conn.log.error('ssh authentication failed', { method: auth.method, error: err as Error });
        auth.reject(METHODS);
      });
    switch (auth.method) {
      case 'password':
        return void done(this.password(auth, auth.password));
      case 'keyboard-interactive':
        return void done(this.keyboard(auth));
      case 'publickey':
        return void done(this.publicKey(auth));
      default:
        // "none" (a client asking which methods there are) and host-based.
        auth.reject(METHODS);
    }
  }

  private async password(auth: PasswordAuthContext | KeyboardAuthContext, password: string): Promise<void> {
    const user = await this.ctx.auth.verify(auth.username, password, this.conn.remoteAddress, this.conn.closed);
    if (user) {
      this.onLogin({ ...user, method: auth.method as 'password' | 'keyboard-interactive' });
      auth.accept();
      return;
    }
    this.passwordFailures++;
    this.conn.log.info('login failed', { user: auth.username, method: auth.method });
    auth.reject(METHODS);
    if (this.passwordFailures >= MAX_PASSWORD_FAILURES) this.onGiveUp('too many failed logins');
  }

  private keyboard(auth: KeyboardAuthContext): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      auth.prompt([{ prompt: 'Password: ', echo: false }], (answers: string[]) => {
        this.password(auth, answers[0] ?? '').then(resolve, reject);
      });
    });
  }

  private async publicKey(auth: PublicKeyAuthContext): Promise<void> {
    const address = await resolveLoginName(auth.username, this.ctx.config.auth, this.ctx.store);
    const keys = address ? await this.sshKeys(address) : [];
    const registered = keys.find((k) => k.publicKey.equals(auth.key.data));
    if (!registered || !address) {
      this.keyOffers++;
      this.conn.log.debug('ssh key not registered', { user: auth.username, algorithm: auth.key.algo });
      auth.reject(METHODS);
      if (this.keyOffers >= MAX_KEY_OFFERS) this.onGiveUp('too many keys offered');
      return;
    }
    if (!auth.signature || !auth.blob) {
      // The client asks whether this key would do before signing with it (RFC 4252 7).
      auth.accept();
      return;
    }
    const parsed = ssh2.utils.parseKey(auth.key.data);
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    const valid = !(key instanceof Error) && key.verify(auth.blob, auth.signature, auth.hashAlgo) === true;
    const user = valid ? await this.ctx.store.getUser(address) : null;
    if (!user) {
      this.conn.log.warn('ssh key signature rejected', { user: address, fingerprint: registered.fingerprint, valid });
      auth.reject(METHODS);
      if (!valid) this.onGiveUp('bad public key signature');
      return;
    }
    this.conn.log.info('ssh key accepted', { user: user.address, fingerprint: registered.fingerprint });
    this.onLogin({ userId: user.id, address: user.address, method: 'publickey' });
    auth.accept();
  }
}
