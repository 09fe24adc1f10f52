// Docker-style random container names: "adjective_surname".
const ADJECTIVES = [
  "admiring", "agile", "amazing", "awesome", "blissful", "bold", "brave", "busy", "calm", "clever",
  "cool", "crazy", "dazzling", "eager", "ecstatic", "elastic", "elegant", "epic", "fervent", "festive",
  "focused", "friendly", "gallant", "gifted", "goofy", "happy", "hopeful", "jolly", "keen", "kind",
  "laughing", "lucid", "magical", "modest", "nifty", "nostalgic", "optimistic", "peaceful", "practical", "quirky",
  "relaxed", "serene", "sharp", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant", "wizardly",
];
const SURNAMES = [
  "albattani", "babbage", "bardeen", "bell", "bohr", "carson", "curie", "darwin", "dijkstra", "einstein",
  "euclid", "faraday", "fermi", "feynman", "franklin", "galileo", "gauss", "goldberg", "hamilton", "hawking",
  "heisenberg", "hopper", "hypatia", "johnson", "kepler", "knuth", "lamport", "lovelace", "maxwell", "meitner",
  "mendel", "mirzakhani", "morse", "newton", "noether", "pasteur", "perlman", "pike", "ritchie", "shannon",
  "sinoussi", "stallman", "swartz", "tesla", "thompson", "torvalds", "turing", "wilson", "wozniak", "yalow",
];

export function randomName(retry = 0): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(Math.random() * xs.length)]!;
  const name = `${pick(ADJECTIVES)}_${pick(SURNAMES)}`;
  return retry > 0 ? `${name}${Math.floor(Math.random() * 10)}` : name;
}
