/**
 * How the protocol clients (the outbound SMTP client, the FTP client of `wharf ftp`) report
 * their dialogue to whoever traces it (`--verbose`, logs): a line sent ('C'), a reply line
 * received ('S') or a note about the connection ('*'). Secrets are masked by the client
 * before a line gets here.
 */
export type TraceDirection = 'C' | 'S' | '*';
export type Trace = (direction: TraceDirection, text: string) => void;
