export { EventsService, canSeeEvent, type EventFilter } from './events.service.js';
export { EventsResolver } from './events.resolver.js';
export { EventType, EmailReceivedEventType, EmailUpdatedEventType, EmailEventType, SyncStatusEventType } from './events.types.js';
