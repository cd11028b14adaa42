/** The benches' comment texts, in a module of its own so the load generator's process stays small. */

const WORDS = (
  'the council vote on the new budget was close and the mayor said she would review the plan ' +
  'residents complained about traffic schools housing taxes and the river park this is a good ' +
  'article thanks for reporting but you are wrong about the numbers idiot check my channel ' +
  'http://example.com/free subscribe now great point I agree completely the minister should resign'
).split(' ');

/** A fixed corpus: deterministic pseudo-random sentences of 5 to 80 words. */
export function corpus(size = 2000): string[] {
  let seed = 12345;
  const next = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed / 4294967296;
  };
  return Array.from({ length: size }, () => {
    const n = 5 + Math.floor(next() * 75);
    const words = Array.from({ length: n }, () => WORDS[Math.floor(next() * WORDS.length)]!);
    return `${words.join(' ')}.`;
  });
}
