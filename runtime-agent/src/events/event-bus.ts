// The engine's event stream (`docker events`, the GUI's live updates): services publish what
// happened; subscribers get new events, and `since` replays recent ones from a bounded buffer.
export type EventType = 'container' | 'image' | 'network' | 'volume' | 'daemon';

export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  /** Deprecated fields older clients (docker-py) still read. */
  status?: string;
  id?: string;
  from?: string;
}

const HISTORY = 1000;

export class EventBus {
  private readonly history: EngineEvent[] = [];
  private readonly subscribers = new Set<(event: EngineEvent) => void>();

  publish(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): void {
    const nowMs = Date.now();
    const event: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Math.floor(nowMs / 1000),
      timeNano: nowMs * 1_000_000,
      ...(type === 'container' || type === 'image' ? { status: action, id, ...(attributes.image ? { from: attributes.image } : {}) } : {}),
    };
    this.history.push(event);
    if (this.history.length > HISTORY) this.history.shift();
    for (const subscriber of this.subscribers) subscriber(event);
  }

  /** Events at or after `sinceNano` still in the buffer. */
  since(sinceNano: number): EngineEvent[] {
    return this.history.filter((e) => e.timeNano >= sinceNano);
  }

  subscribe(listener: (event: EngineEvent) => void): () => void {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  }
}
