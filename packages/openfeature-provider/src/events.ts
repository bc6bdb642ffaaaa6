import type { AnyProviderEvent, EventContext, EventHandler, Logger, ProviderEventEmitter } from "@openfeature/core";

/**
 * The provider's event emitter. @openfeature/core's GenericEventEmitter needs a platform
 * EventEmitter (Node's `events`, or a browser polyfill); this one works on both without one.
 */
export class ProviderEvents<E extends AnyProviderEvent> implements ProviderEventEmitter<E> {
  private readonly handlers = new Map<AnyProviderEvent, Set<EventHandler>>();
  private logger: Logger | undefined;

  emit(eventType: E, context?: EventContext): void {
    for (const handler of [...(this.handlers.get(eventType) ?? [])]) {
      try {
        Promise.resolve(handler(context as never)).catch((error: unknown) => this.logger?.error(error));
      } catch (error) {
        // One failing handler must not keep the event from the others.
        this.logger?.error(error);
      }
    }
  }

  addHandler(eventType: AnyProviderEvent, handler: EventHandler): void {
    const set = this.handlers.get(eventType) ?? new Set();
    set.add(handler);
    this.handlers.set(eventType, set);
  }

  removeHandler(eventType: AnyProviderEvent, handler: EventHandler): void {
    this.handlers.get(eventType)?.delete(handler);
  }

  removeAllHandlers(eventType?: AnyProviderEvent): void {
    if (eventType === undefined) this.handlers.clear();
    else this.handlers.delete(eventType);
  }

  getHandlers(eventType: AnyProviderEvent): EventHandler[] {
    return [...(this.handlers.get(eventType) ?? [])];
  }

  setLogger(logger: Logger): this {
    this.logger = logger;
    return this;
  }
}
