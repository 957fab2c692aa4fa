// Sizes as the docker CLI prints them (go-units HumanSize: decimal units, 4 significant digits).
const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];

export function humanSize(bytes: number): string {
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${formatG4(size)}${UNITS[unit]}`;
}

/** Go's %.4g: four significant digits, trailing zeros dropped. */
function formatG4(value: number): string {
  return String(Number(value.toPrecision(4)));
}
