import { Injectable } from '@nestjs/common';
import { CacheStore } from '../cache/cache-store.service.js';
import { validateDistfileName } from '../distfile/distfile-name.js';
import { FillService } from '../fills/fill.service.js';
import { planSources } from '../fills/source-plan.js';
import { MirrorBalancer } from '../mirrors/mirror-balancer.service.js';
import { manifestMismatch, matchingManifest } from '../repository/manifest-check.js';
import { SrcUriResolver } from '../repository/src-uri-resolver.service.js';

/**
 * What portcache knows about a distfile and where it would fetch it from, with reasons: the
 * answer of `GET /api/v1/distfiles/:name` and of the status page's search box.
 */
@Injectable()
export class DistfileExplainer {
  constructor(
    private readonly store: CacheStore,
    private readonly fills: FillService,
    private readonly balancer: MirrorBalancer,
    private readonly resolver: SrcUriResolver,
  ) {}

  /** Throws validateDistfileName's HttpException for a name that cannot be a distfile. */
  explain(name: string) {
    validateDistfileName(name);
    const entry = this.resolver.lookup(name);
    const plan = planSources(name, entry);
    const mirrors = this.balancer.snapshot().map((mirror) => mirror.url);
    const file = this.store.get(name);
    const matched = file && matchingManifest(file.digests, entry);
    return {
      name,
      index: {
        ready: this.resolver.ready,
        known: entry !== undefined,
        ...(entry && {
          size: entry.size ?? null,
          BLAKE2B: entry.BLAKE2B ?? null,
          SHA512: entry.SHA512 ?? null,
          verifiable: entry.verifiable,
          conflict: entry.conflict ?? null,
          manifests: entry.manifests.map((line) => ({
            repos: line.repos,
            size: line.size,
            BLAKE2B: line.BLAKE2B ?? null,
            SHA512: line.SHA512 ?? null,
          })),
          packages: entry.sources.map((source) => ({
            repo: source.repo,
            cpv: source.cpv,
            restrict: Object.entries(source.restrict)
              .filter(([, on]) => on)
              .map(([flag]) => flag),
            uris: source.uris.map((uri) => (uri.lifts ? `${uri.lifts}+${uri.url}` : uri.url)),
          })),
        }),
      },
      cache: {
        cached: file !== undefined,
        filling: this.fills.isFilling(name),
        ...(file && {
          ...file.digests,
          matchesIndex: entry?.verifiable ? (manifestMismatch(file.digests, entry) ?? true) : null,
          // Whose DIST line the bytes are: Manifests may disagree.
          matchedManifest: matched ? { repos: matched.repos } : null,
        }),
      },
      refusal: plan.refusal ?? null,
      sources: plan.steps.map((step) =>
        step.kind === 'mirrors'
          ? { kind: 'mirrors', mirrors, reason: step.reason }
          : { kind: 'uri', url: step.url, reason: step.reason },
      ),
    };
  }
}
