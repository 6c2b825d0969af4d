// Runs async sections one at a time per key (other keys run in parallel):
// for decisions that read a shared count and then write, such as admitting
// Tasks under an Agent's concurrency limit with several workers.
export class KeyedMutex {
  private tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const current = previous.then(section, section);
    const tail = current.catch(() => {});
    this.tails.set(key, tail);
    try {
      return await current;
    } finally {
      // The last one out leaves no entry behind.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Keys with a section running or waiting (for tests). */
  get size(): number {
    return this.tails.size;
  }
}
