// Log lines in a scrolling box that renders only what is in view: thousands of lines a second
// cost a slice and one text node per frame, not a relayout of the whole log. Lines have a fixed
// height (no wrapping; long lines scroll sideways). While the view is at the bottom it follows
// new lines; scrolling up stops following until it is back at the bottom.
import { useLayoutEffect, useRef, useState } from 'react';

const LINE_HEIGHT = 17;
const OVERSCAN = 20;

export function LogView({ lines, label }: { lines: readonly string[]; label: string }) {
  const box = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const following = useRef(true);

  useLayoutEffect(() => {
    const element = box.current;
    if (!element) return;
    setHeight(element.clientHeight);
    if (following.current) {
      element.scrollTop = element.scrollHeight;
      setScrollTop(element.scrollTop);
    }
  }, [lines]);

  const first = Math.max(0, Math.floor(scrollTop / LINE_HEIGHT) - OVERSCAN);
  const count = Math.ceil(height / LINE_HEIGHT) + 2 * OVERSCAN;
  return (
    <div
      className="logs"
      ref={box}
      role="log"
      aria-label={label}
      tabIndex={0}
      onScroll={(e) => {
        const element = e.currentTarget;
        following.current = element.scrollTop + element.clientHeight >= element.scrollHeight - LINE_HEIGHT;
        setScrollTop(element.scrollTop);
      }}
    >
      <div style={{ height: lines.length * LINE_HEIGHT, position: 'relative' }}>
        <pre style={{ top: first * LINE_HEIGHT, lineHeight: `${LINE_HEIGHT}px` }}>{lines.slice(first, first + count).join('\n')}</pre>
      </div>
      {lines.length === 0 && <p className="muted">No log lines yet.</p>}
    </div>
  );
}
