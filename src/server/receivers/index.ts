import { distribution } from './distribution.js';
import { generic } from './generic.js';
import { harbor } from './harbor.js';
import { dockerhub, quay } from './tag-only.js';
import type { Receiver } from './types.js';

export type { Delivery, ParseContext, ReceivedEvent, Receiver } from './types.js';

/** Every payload format the service reads, by the `type` a receiver's configuration names. */
export const RECEIVERS: Readonly<Record<'distribution' | 'harbor' | 'dockerhub' | 'quay' | 'generic', Receiver>> = {
  distribution,
  harbor,
  dockerhub,
  quay,
  generic,
};
