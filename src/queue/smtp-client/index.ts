/** The SMTP client: outbound delivery (src/queue/smtp-transport.ts) and `wharf send` use it. */
export { SmtpConnection, describeTls, type ConnectOptions, type Trace, type TraceDirection, type TlsState } from './connection.js';
export { SmtpClientError, failureReply, type FailureKind } from './errors.js';
export { parseEhloReply, type Extensions } from './extensions.js';
export { DotEncoder } from './dot-encoder.js';
export { SessionPool, type Lease, type PoolOptions } from './pool.js';
export { ReplyParser, replyText, type SmtpReply } from './reply.js';
export { SmtpClientSession, type SessionOptions } from './session.js';
export { capabilityRefusal, sendMessage, type OutgoingMessage, type Outcome, type RecipientResult, type TransactionResult } from './transaction.js';
