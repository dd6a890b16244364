import { intVar, serviceVars, splitList } from '@sysdesign/platform';
import { z } from 'zod';

export const SERVICE_NAME = 'console';
export const DEFAULT_PORT = 3000;

/** `name=url` pairs, comma-separated: `id-generator=http://id-generator-1:3003,...`. */
const servicesVar = z
  .string()
  .transform((value, context) => {
    const services: { name: string; url: string }[] = [];
    for (const entry of splitList(value)) {
      const separator = entry.indexOf('=');
      const name = entry.slice(0, separator);
      const url = entry.slice(separator + 1);
      if (separator <= 0 || !/^[a-z0-9-]{1,64}$/.test(name) || !/^https?:\/\/[^\s]+$/.test(url)) {
        context.addIssue({
          code: 'custom',
          message: `entry ${JSON.stringify(entry)} must look like name=http://host:port`,
        });
        return z.NEVER;
      }
      services.push({ name, url: url.replace(/\/+$/, '') });
    }
    return services;
  })
  .default([]);

export const configSchema = z.object({
  ...serviceVars({ name: SERVICE_NAME, port: DEFAULT_PORT }),
  CONSOLE_SERVICES: servicesVar,
  /** How long the page waits for each service's health answer. */
  HEALTH_TIMEOUT_MS: intVar(1_000, 50, 30_000),
});

export type Config = z.infer<typeof configSchema>;
