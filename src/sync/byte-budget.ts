/**
 * A budget of message-source bytes held in memory by all folder syncs of this process together. Each fetched chunk
 * takes its share before it is fetched and gives it back once it is stored, so memory stays bounded whatever the
 * number of accounts syncing at once (each account alone holds at most a few chunks; 40 accounts did, under API load,
 * 600 MB of RSS without this).
 *
 * FIFO: a waiting request is served before later ones, so a large chunk is never starved by small ones. A request
 * larger than the whole budget is clamped to it (it then runs alone). Parsing and storing never take budget, so a
 * holder always gets to release it: no deadlock.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; grant: () => void }[] = [];

  constructor(readonly limit: number) {}

  /** Resolves with the release function once `bytes` fit; rejects with the signal's reason if it aborts meanwhile. */
  acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    const need = Math.min(Math.max(0, bytes), this.limit);
    return new Promise((resolve, reject) => {
      signal?.throwIfAborted();
      const entry = {
        bytes: need,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          this.used += need;
          let released = false;
          resolve(() => {
            if (released) return;
            released = true;
            this.used -= need;
            this.pump();
          });
        },
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(entry);
        if (i === -1) return;
        this.waiting.splice(i, 1);
        reject(signal!.reason);
        this.pump();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
      this.pump();
    });
  }

  /** Bytes currently held. */
  get held(): number {
    return this.used;
  }

  private pump(): void {
    while (this.waiting.length > 0 && this.used + this.waiting[0]!.bytes <= this.limit) this.waiting.shift()!.grant();
  }
}
