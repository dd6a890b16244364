import { runStandalone } from '@sysdesign/platform';
import { urlShortener } from './service.js';

await runStandalone(urlShortener);
