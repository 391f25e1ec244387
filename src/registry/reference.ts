import { ImggateError } from '../errors.js';
import { parseDigest } from '../oci/digest.js';

export const DOCKER_HUB = 'docker.io';

/** A registry image reference, normalised the way Docker normalises it. */
export interface ImageReference {
  /** Registry host as the user means it, `docker.io` for Docker Hub. */
  readonly registry: string;
  /** Repository path inside the registry, `library/alpine` for `alpine`. */
  readonly repository: string;
  readonly tag?: string | undefined;
  readonly digest?: string | undefined;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

function invalid(text: string, why: string): ImggateError {
  return new ImggateError('REFERENCE_INVALID', `invalid image reference "${text}": ${why}`);
}

/**
 * Parses `[host[:port]/]path[:tag][@digest]`. The first path component is a registry host when it
 * contains `.` or `:` or is `localhost` (Docker's rule); otherwise the image is on Docker Hub and a
 * single-component name lives under `library/`. A reference with neither tag nor digest means `:latest`.
 */
export function parseReference(text: string): ImageReference {
  if (text.length === 0 || text.length > 4096) throw invalid(text, 'empty or too long');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest);
    } catch (err) {
      throw invalid(text, (err as Error).message);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw invalid(text, `tag "${tag}" is not valid`);
  }
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  const first = parts[0] ?? '';
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))) {
    registry = first;
    parts.shift();
    if (!HOST.test(registry)) throw invalid(text, `registry host "${registry}" is not valid`);
    const port = /:([0-9]+)$/.exec(registry)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw invalid(text, `port ${port} is out of range (1-65535)`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (parts.length === 0 || parts.some((p) => !COMPONENT.test(p))) {
    throw invalid(text, 'repository name must be lowercase letters, digits and separators (. _ __ -)');
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw invalid(text, 'repository name is longer than 255 characters');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** `registry/repository[:tag][@digest]`, the normalised form reports carry. */
export function formatReference(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** The same image pinned to a digest: what is checked, attested and never re-resolved. */
export function withDigest(ref: ImageReference, digest: string): ImageReference {
  return { ...ref, digest };
}

/** The host the distribution API is spoken to: Docker Hub's API lives on another name. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}

/** Docker speaks plain HTTP to loopback registries without being told; so does imggate. */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[(.*)\]$/, '$1');
  return host === 'localhost' || host === '::1' || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host);
}

/** `host/repo:tag@digest` → `host/repo`: what policy scopes and attestation subjects name. */
export function repositoryNameOf(reference: string): string {
  const at = reference.indexOf('@');
  const base = at >= 0 ? reference.slice(0, at) : reference;
  const colon = base.lastIndexOf(':');
  return colon > base.lastIndexOf('/') ? base.slice(0, colon) : base;
}
