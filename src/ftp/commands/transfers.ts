/**
 * Commands that use the data connection: RETR, STOR, STOU, APPE, LIST, NLST (RFC 959), MLSD
 * (RFC 3659), and ABOR. Each checks what it can on the control connection first (550 before
 * any data connection), then runs as the session's transfer so ABOR and STAT are answered
 * while bytes move. An upload is committed (durable under its name) before the 226.
 */
import { randomBytes } from 'node:crypto';
import type { FileReader, FileUpload, UploadOptions } from '../../store/file-store.js';
import { baseName, parentPath } from '../../store/files/path.js';
import { StoreError } from '../../store/types.js';
import { CrlfToLf, lfToCrlf } from '../ascii.js';
import type { DataSetup } from '../data-channel.js';
import {
  DataInterruptedError,
  dropData,
  finishSending,
  interruptionReply,
  dataBatches,
  letControlCatchUp,
  openDataConnection,
  writeData,
  type DataSocket,
} from '../data-transfer.js';
import { sendFromReads, type ReadInto } from '../file-sending.js';
import { listLine, mlstFacts } from '../listing.js';
import type { CommandHandler, FtpSession, Transfer } from '../session.js';
import { isDiskFull, storeErrorReply } from '../store-errors.js';
import { storeFailureKind } from '../../store/failure.js';
import { refuseReadOnly, withStore } from './files.js';
import { listingTarget, readListing, type Listing, type ListingEntry } from './listings.js';
import { endedWithCloseNotify } from '../tls-closure.js';
import { UploadReader } from '../upload-reader.js';

const TRANSFER_COMPLETE = '226 Transfer complete';
/** Unique names STOU tries before giving up. */
const STOU_ATTEMPTS = 20;

/** The data setup for a transfer command, or a 425 when the client gave none; null then. */
async function takeSetup(session: FtpSession): Promise<DataSetup | null> {
  const setup = session.takeDataSetup();
  if (!setup) {
    await session.reply('425 Use PORT, PASV, EPRT or EPSV first');
    return null;
  }
  if (session.dataProtectionRequired && !session.protectData) {
    setup.close();
    await session.reply('521 Data connections must be protected here: send PBSZ 0 and PROT P');
    return null;
  }
  return setup;
}

function modeName(session: FtpSession): string {
  return session.type === 'A' ? 'ASCII' : 'BINARY';
}

// ---- downloads ----------------------------------------------------------------------------

/**
 * What a transfer sends: chunks to write one by one, or a file read from `start` into the
 * sender's own buffers (reused, see file-sending.ts) when its store can.
 */
type Source = { chunks: AsyncIterable<Buffer> } | { readInto: ReadInto; start: number };

/** Sends `source` on a new data connection, then 226; every failure is replied to. */
async function sendOnData(session: FtpSession, transfer: Transfer, setup: DataSetup, preliminary: string, source: Source, ascii: boolean): Promise<void> {
  const socket = await openDataConnection(session, transfer, setup, preliminary);
  if (!socket) return;
  try {
    if ('readInto' in source) {
      await sendFromReads(socket, source.readInto, source.start, transfer, {
        convert: ascii ? lfToCrlf : undefined,
        onSent: (bytes) => {
          transfer.bytes += bytes;
        },
      });
    } else {
      for await (const chunk of source.chunks) {
        const wire = ascii ? lfToCrlf(chunk) : chunk;
        await writeData(socket, wire, transfer);
        transfer.bytes += wire.length;
      }
    }
    await finishSending(socket, transfer);
  } catch (err) {
    dropData(socket);
    const reply = interruptionReply(err, transfer) ?? storeErrorReply(err, 'read');
    if (reply === null) throw err;
    await session.reply(reply);
    return;
  }
  await session.reply(TRANSFER_COMPLETE);
}

const retr: CommandHandler = async (session, argument) => {
  const offset = session.restOffset;
  session.restOffset = 0;
  if (argument.length === 0) return session.rejectCommand('501 RETR needs a path');
  const setup = await takeSetup(session);
  if (!setup) return;
  let reader: FileReader | null = null;
  const opened = await withStore(session, 'read', async () => {
    reader = await session.files.openRead(session.user!.space, session.resolvePath(argument));
  });
  if (!opened || !reader) return setup.close();
  const file: FileReader = reader;
  if (offset > file.info.size) {
    setup.close();
    await file.close();
    return session.reply('554 Invalid REST parameter: past the end of the file');
  }
  const path = session.resolvePath(argument);
  const ascii = session.type === 'A';
  const preliminary = `150 Opening ${modeName(session)} mode data connection for ${path} (${file.info.size} bytes)`;
  session.startTransfer('RETR', path, async (transfer) => {
    try {
      const source: Source = file.readInto ? { readInto: file.readInto.bind(file), start: offset } : { chunks: file.stream(offset) };
      await sendOnData(session, transfer, setup, preliminary, source, ascii);
    } finally {
      await file.close();
    }
  });
};

async function* linesOf(lines: string[]): AsyncIterable<Buffer> {
  // Listings are text with CR LF line ends in every TYPE (what clients parse), so they are
  // built that way and never converted.
  const batch = 256;
  for (let i = 0; i < lines.length; i += batch) {
    yield Buffer.from(lines.slice(i, i + batch).map((l) => l + '\r\n').join(''));
  }
}

function listCommand(kind: 'LIST' | 'NLST' | 'MLSD'): CommandHandler {
  return async (session, argument) => {
    const target = kind === 'MLSD' ? argument : listingTarget(argument);
    const setup = await takeSetup(session);
    if (!setup) return;
    let listing: Listing = { entries: [], prefix: '' };
    let folder: ListingEntry | null = null;
    const ok = await withStore(session, 'read', async () => {
      if (kind === 'MLSD') {
        const path = session.resolvePath(target);
        const info = await session.files.stat(session.user!.space, path);
        if (!info) throw new StoreError('not-found', 'no such folder');
        if (info.type !== 'directory') throw new StoreError('conflict', 'not a folder');
        folder = { info, name: '.' };
      }
      listing = await readListing(session, target, { glob: kind !== 'MLSD' });
    });
    if (!ok) return setup.close();
    const readOnly = session.user!.readOnly;
    const selected = session.mlstSelection;
    const now = Date.now();
    const { entries, prefix } = listing;
    let lines: string[];
    if (kind === 'LIST') lines = entries.map((e) => listLine(e.info, e.name, now));
    else if (kind === 'NLST') lines = entries.map((e) => prefix + e.name);
    else {
      const self = folder as ListingEntry | null;
      lines = [
        ...(self ? [`${mlstFacts(self.info, { readOnly, selected, role: 'cdir' })} .`] : []),
        ...entries.map((e) => `${mlstFacts(e.info, { readOnly, selected })} ${e.name}`),
      ];
    }
    session.startTransfer(kind, target || session.cwd, (transfer) =>
      sendOnData(session, transfer, setup, '150 Here comes the directory listing', { chunks: linesOf(lines) }, false),
    );
  };
}

// ---- uploads ------------------------------------------------------------------------------

/**
 * Receives the file on a new data connection into `upload` and commits it before 226.
 * Whatever goes wrong, the upload is given up (kept when files.keepPartial, for REST).
 */
async function receiveOnData(session: FtpSession, transfer: Transfer, setup: DataSetup, preliminary: string, upload: FileUpload): Promise<void> {
  const keepPartial = session.ctx.config.files.keepPartial;
  let socket: DataSocket | null = null;
  try {
    const reader = new UploadReader();
    socket = await openDataConnection(session, transfer, setup, preliminary, reader);
    if (!socket) {
      await upload.abort();
      return;
    }
    const ascii = session.type === 'A' ? new CrlfToLf() : null;
    for await (const chunk of reader.reads(socket) ? reader.batches() : dataBatches(socket)) {
      transfer.bytes += chunk.length;
      const bytes = ascii ? ascii.push(chunk) : chunk;
      if (bytes.length > 0) await upload.write(bytes);
      if (transfer.aborted) break;
    }
    const tail = ascii?.end();
    if (tail && tail.length > 0) await upload.write(tail);
    // A client that ended its TLS data with close_notify sent the whole file: no wait for it.
    const graceMs = endedWithCloseNotify(socket) ? 0 : session.ctx.config.ftp.uploadCloseGraceMs;
    await letControlCatchUp(transfer, upload.sync(), graceMs);
    if (transfer.aborted) throw new DataInterruptedError('426 Connection closed; transfer aborted');
    await upload.commit();
  } catch (err) {
    dropData(socket);
    await upload.abort({ keepPartial });
    if (session.isClosing) {
      session.log.info('upload given up: the client went away', { path: transfer.path, bytes: transfer.bytes, kept: keepPartial });
      return;
    }
    const reply = interruptionReply(err, transfer) ?? storeErrorReply(err, 'create');
    if (reply === null) throw err;
    if (err instanceof StoreError && err.code === 'quota') session.log.info('upload over quota', { path: transfer.path });
    else if (isDiskFull(err)) session.log.warn('disk full during upload', { path: transfer.path });
    else if (storeFailureKind(err) !== null) session.log.warn('store failed during upload', { path: transfer.path, error: err as Error });
    await session.reply(reply);
    return;
  }
  dropData(socket);
  session.log.info('upload', { path: transfer.path, bytes: upload.bytesWritten });
  await session.reply(TRANSFER_COMPLETE);
}

/** Starts an upload on the store (550/553/552 before any data connection), then the transfer. */
async function startUpload(session: FtpSession, path: string, setup: DataSetup, options: Omit<UploadOptions, 'maxBytes'>): Promise<FileUpload | null> {
  let upload: FileUpload | null = null;
  const space = session.user!.space;
  const ok = await withStore(session, 'create', async () => {
    const maxBytes = await session.services.uploadAllowance(space);
    upload = await session.files.createUpload(space, path, { ...options, maxBytes });
  });
  if (!ok || !upload) {
    setup.close();
    return null;
  }
  return upload;
}

function storeCommand(command: 'STOR' | 'APPE'): CommandHandler {
  return async (session, argument) => {
    const offset = session.restOffset;
    session.restOffset = 0;
    if (argument.length === 0) return session.rejectCommand(`501 ${command} needs a path`);
    if (await refuseReadOnly(session)) return;
    const setup = await takeSetup(session);
    if (!setup) return;
    let path: string;
    try {
      path = session.resolvePath(argument);
    } catch (err) {
      setup.close();
      return session.reply(storeErrorReply(err, 'create') ?? '553 File name not allowed');
    }
    const options: Omit<UploadOptions, 'maxBytes'> =
      command === 'APPE' ? { mode: 'append' } : offset > 0 ? { mode: 'resume', offset } : { mode: 'replace' };
    const upload = await startUpload(session, path, setup, options);
    if (!upload) return;
    const file: FileUpload = upload;
    const preliminary = `150 Ok to send data (${modeName(session)} mode)`;
    session.startTransfer(command, path, (transfer) => receiveOnData(session, transfer, setup, preliminary, file));
  };
}

/** STOU: a name nobody uses, in the current folder (or next to the name given). */
const stou: CommandHandler = async (session, argument) => {
  session.restOffset = 0;
  if (await refuseReadOnly(session)) return;
  const setup = await takeSetup(session);
  if (!setup) return;
  let base: string;
  try {
    base = session.resolvePath(argument.length > 0 ? argument : `upload-${randomBytes(4).toString('hex')}`);
  } catch (err) {
    setup.close();
    return session.reply(storeErrorReply(err, 'create') ?? '553 File name not allowed');
  }
  const space = session.user!.space;
  for (let attempt = 0; attempt < STOU_ATTEMPTS; attempt++) {
    const path = attempt === 0 ? base : `${base}.${attempt}`;
    let upload: FileUpload | null = null;
    let taken = false;
    const ok = await withStore(session, 'create', async () => {
      try {
        const maxBytes = await session.services.uploadAllowance(space);
        upload = await session.files.createUpload(space, path, { mode: 'replace', exclusive: true, maxBytes });
      } catch (err) {
        if (err instanceof StoreError && err.code === 'conflict') taken = true;
        else throw err;
      }
    });
    if (!ok) return setup.close();
    if (taken || !upload) continue;
    const file: FileUpload = upload;
    // RFC 1123 section 4.1.2.9: the name is in the 150 reply, as "FILE: name".
    const preliminary = `150 FILE: ${parentPath(path) === session.cwd ? baseName(path) : path}`;
    session.startTransfer('STOU', path, (transfer) => receiveOnData(session, transfer, setup, preliminary, file));
    return;
  }
  setup.close();
  await session.reply('553 Could not find a unique file name');
};

const abor: CommandHandler = async (session) => {
  const transfer = session.transfer;
  if (!transfer) {
    session.setDataSetup(null);
    return session.reply('225 No transfer to abort');
  }
  transfer.abort();
  await transfer.done;
  // The transfer itself replied 426 (RFC 959 section 4.1.3: then 226 for ABOR).
  await session.reply('226 ABOR successful');
};

export const transferCommands = {
  RETR: { run: retr, needsLogin: true },
  STOR: { run: storeCommand('STOR'), needsLogin: true },
  APPE: { run: storeCommand('APPE'), needsLogin: true },
  STOU: { run: stou, needsLogin: true },
  LIST: { run: listCommand('LIST'), needsLogin: true },
  NLST: { run: listCommand('NLST'), needsLogin: true },
  MLSD: { run: listCommand('MLSD'), needsLogin: true },
  ABOR: { run: abor, needsLogin: true },
};
