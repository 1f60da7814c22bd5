export { Thread } from './thread.entity.js';
export { ThreadLinker, normalizeSubject } from './thread-linker.js';
