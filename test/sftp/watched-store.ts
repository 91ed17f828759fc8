/** A file store whose uploads pass each chunk to a watcher before the store writes it (tests). */
import type { FileStore, FileUpload } from '../../src/store/file-store.js';

/**
 * `files`, with each upload given a watcher by `watcher` (one per upload, so it may count),
 * called for every chunk before the store writes it; a throw fails that write.
 */
export function watchUploads(files: FileStore, watcher: () => (chunk: Buffer) => void): FileStore {
  return new Proxy(files, {
    get(target, prop, receiver) {
      if (prop !== 'createUpload') return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<FileStore['createUpload']>): Promise<FileUpload> => {
        const upload = await target.createUpload(...args);
        const beforeWrite = watcher();
        return {
          get bytesWritten() {
            return upload.bytesWritten;
          },
          async write(chunk: Buffer) {
            beforeWrite(chunk);
            await upload.write(chunk);
          },
          sync: () => upload.sync(),
          commit: () => upload.commit(),
          abort: (options) => upload.abort(options),
        };
      };
    },
  });
}
