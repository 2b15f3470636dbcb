// What every entry point (Electron, serve, CLI) holds: the service that implements the contract,
// the job registry whose events it relays, and the media resolver behind thumbnails and frames.
import type { StudioService } from '../../shared/contract';
import type { AppInfo, MediaKey } from '../../shared/types';
import type { EngineHost } from '../engine-host/host';
import type { JobRegistry } from './jobs';

export interface StudioOptions {
  /** The SQLite file holding the round history; created and migrated if new. */
  dbPath: string;
  /** Where thumbnails and frame caches live; defaults to `<dbPath>.cache/` beside the database. */
  cacheDir?: string;
  transport: AppInfo['transport'];
  /** Where engine work runs: Electron's utilityProcess in the app, a Node child process elsewhere. The studio closes it. */
  engine: EngineHost;
}

export interface Studio {
  service: StudioService;
  jobs: JobRegistry;
  /** The file behind a media key, or null when the key names nothing this studio made; a frame
   *  image is extracted on its first request, so listing a pair never waits for ffmpeg. */
  resolveMedia(key: MediaKey): Promise<string | null>;
  /** Cancels running jobs, waits for them to stop, then closes the database. */
  close(): Promise<void>;
}
