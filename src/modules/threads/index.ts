export { Thread } from './thread.entity.js';
export { ThreadLinker, normalizeSubject } from './thread-linker.js';
export { ThreadsService, type ThreadRow, type ThreadPage } from './threads.service.js';
export { createThreadLoaders, type ThreadLoaders } from './threads.loaders.js';
export { ThreadType, ThreadPageType } from './threads.types.js';
export { ThreadsResolver, EmailThreadResolver } from './threads.resolver.js';
