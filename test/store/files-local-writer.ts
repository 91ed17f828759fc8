/**
 * Child process of files-local.test.ts: starts an upload on the data folder given as argument
 * and keeps writing until it is killed, so the test can check what a crash leaves behind.
 */
import { LocalFileStore } from '../../src/store/files/local.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: files-local-writer <dataDir>');
const files = await LocalFileStore.open(dir);
const upload = await files.createUpload({ kind: 'user', userId: 1, address: 'alice@example.com' }, '/big.bin', {
  mode: 'replace',
  maxBytes: null,
});
const chunk = Buffer.alloc(64 * 1024, 0x61);
await upload.write(chunk);
process.stdout.write('writing\n');
for (;;) {
  await upload.write(chunk);
  // Let the kill arrive; the file never gets committed.
  await new Promise((resolve) => setTimeout(resolve, 5));
}
