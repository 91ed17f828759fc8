/**
 * The LOGIN mechanism (draft-murchison-sasl-login): the user name and the password, each in
 * answer to a challenge. Obsolete but still what some clients try first on SMTP.
 */
import { credentialsStep, decodeField, failure, type SaslMechanism, type SaslStep } from './mechanism.js';

const USERNAME = Buffer.from('Username:');
const PASSWORD = Buffer.from('Password:');

export function createLoginMechanism(): SaslMechanism {
  let username: string | null = null;
  let done = false;
  const take = (response: Buffer): SaslStep => {
    if (done) return failure('malformed');
    const field = decodeField(response);
    if (typeof field !== 'string') {
      done = true;
      return failure(field.failure);
    }
    if (username === null) {
      username = field;
      return { kind: 'challenge', challenge: PASSWORD };
    }
    done = true;
    return credentialsStep({ authzid: '', authcid: username, password: field });
  };
  return {
    name: 'LOGIN',
    start: (initial) => (initial === undefined ? { kind: 'challenge', challenge: USERNAME } : take(initial)),
    respond: take,
  };
}
