import type { IncomingHttpHeaders } from 'node:http';

/** A webhook delivery as it arrived: the raw bytes (signatures are over them) and the headers. */
export interface Delivery {
  readonly body: Buffer;
  /** The media type without parameters, lowercased. */
  readonly mediaType: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * What a receiver makes of one event: the image it names. A digest when the sender gave one; a tag
 * alone is resolved to a digest once, at ingest, by the service.
 */
export interface ReceivedEvent {
  readonly eventId: string;
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
  /**
   * The sender deleted the tag, or the digest (every tag naming it), or the whole repository when it
   * names neither: nothing to check, the image inventory forgets it.
   */
  readonly deleted?: true | undefined;
}

export interface ParseContext {
  /** The registry tag-only senders mean (from the receiver's configuration). */
  readonly registry?: string | undefined;
}

/** A payload format: the media types it takes and a parser that keeps only manifest pushes (and deletes, where the format has them). */
export interface Receiver {
  readonly type: string;
  readonly mediaTypes: readonly string[];
  /** Throws `PAYLOAD_INVALID` (400) for a body that is not what the format says. */
  parse(delivery: Delivery, context: ParseContext): ReceivedEvent[];
}
