/**
 * Runs `body` with these variables set in this process's environment (which the target processes it
 * forks inherit), and puts the previous values back afterwards, whatever happens.
 */
export async function withEnv<Result>(
  variables: Record<string, string>,
  body: () => Promise<Result>,
): Promise<Result> {
  const previous = new Map(Object.keys(variables).map((name) => [name, process.env[name]]));
  Object.assign(process.env, variables);
  try {
    return await body();
  } finally {
    for (const [name, value] of previous) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
