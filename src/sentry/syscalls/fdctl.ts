// fcntl and ioctl (the few commands the filter sends to the Sentry; the
// others run on the host) and syncfs: calls on an fd that the host would
// answer for an O_PATH fd's placeholder.
//
// An O_PATH fd is a placeholder (a memfd with access mode 3, see files.ts)
// because ADDFD refuses O_PATH files, so the host would answer its fcntl
// F_GETFL with the placeholder's flags and let F_SETFL, the owner, signal,
// lease, seal and hint commands and F_GETLK act on it, where Linux refuses
// every command but F_DUPFD*, F_GETFD, F_SETFD and F_GETFL on an O_PATH fd
// with EBADF, and syncfs would sync. The filter routes those commands here;
// for every other fd they continue on the host. ioctl commands outside the
// filter's allow-list come here too, so a bad or O_PATH fd gets EBADF before
// the command's ENOTTY, and so do the generic commands (FIONBIO, FIOCLEX,
// ...) the placeholder would take.
import { FIOASYNC, FIOCLEX, FIONBIO, FIONCLEX, FIONREAD, FIOQSIZE, F_GETFL, O_CLOEXEC, O_PATH } from '../../abi/linux.js';
import { CONTINUE } from '../../platform/notif.js';
import { fail } from '../errors.js';
import type { Handler } from './dispatch.js';
import { notPath } from './common.js';

const GENERIC = new Set([FIONBIO, FIOCLEX, FIONCLEX, FIOASYNC, FIOQSIZE]);

export const fdctlHandlers: Record<string, Handler> = {
  fcntl: (k, t, a) => {
    const { file } = k.files.lookup(t, a.int(0));
    if (!file || !(file.flags & O_PATH)) return CONTINUE;
    if (a.int(1) === F_GETFL) return file.flags & ~O_CLOEXEC;
    fail('EBADF');
  },
  syncfs: (k, t, a) => {
    notPath(k.files.lookup(t, a.int(0)).file);
    return CONTINUE;
  },
  ioctl: (k, t, a) => {
    // FIONREAD: the dispatcher has queued the inotify data events the host
    // reported, so an inotify fd's count includes them; the call runs on the host.
    if (a.u32(1) === FIONREAD) return CONTINUE;
    notPath(k.files.lookup(t, a.int(0)).file);
    // The generic commands Linux answers for any file but an O_PATH one.
    if (GENERIC.has(a.u32(1))) return CONTINUE;
    fail('ENOTTY');
  },
};
