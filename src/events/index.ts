export { EVENT_TYPES, type EventType, type EventPayloads, type NewEvent } from './catalog.js';
export type * from './catalog.js';
export { appendEvents, eventId, EVENTS_CHANNEL } from './outbox.js';
export { EventRecord } from './event.entity.js';
export { readEvents, seqOfEvent, lastEventSeq, highestIssuedSeq, type StoredEvent, type ReadEventsOptions } from './reader.js';
export { EventStream, OVERFLOW, type StreamItem, type LiveSubscription, type EventStreamOptions } from './stream.js';
export { EventsWakeLoop } from './wake-loop.js';
export { pruneEvents, pruneWebhookDeliveries, startEventRetention } from './retention.js';
