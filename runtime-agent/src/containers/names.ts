// Names for containers started without --name, in dockerd's adjective_surname style.
import { randomInt } from 'node:crypto';

const ADJECTIVES = ['admiring', 'brave', 'calm', 'clever', 'dazzling', 'eager', 'focused', 'gifted', 'happy', 'jolly', 'keen', 'lucid', 'modest', 'nifty', 'optimistic', 'peaceful', 'quirky', 'relaxed', 'serene', 'tender', 'upbeat', 'vibrant', 'wizardly', 'youthful', 'zealous'];
const NAMES = ['babbage', 'curie', 'darwin', 'einstein', 'franklin', 'galileo', 'hopper', 'johnson', 'kepler', 'lovelace', 'meitner', 'noether', 'pasteur', 'ritchie', 'shannon', 'thompson', 'turing', 'wozniak', 'yalow', 'zhukovsky'];

export function generateName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NAMES[randomInt(NAMES.length)]}`;
}
