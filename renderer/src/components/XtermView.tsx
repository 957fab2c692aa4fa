// xterm.js in a panel that fits its box: the container terminal and the host terminal both use it.
// `connect` attaches the terminal to its session and returns how to resize and close it.
import { FitAddon } from '@xterm/addon-fit';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef } from 'react';

export interface TerminalSession {
  resize(cols: number, rows: number): void;
  close(): void;
}

export function XtermView({ connect, label }: { connect(term: Terminal): TerminalSession; label: string }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!element.current) return;
    const term = new Terminal({ fontSize: 13, cursorBlink: true });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(element.current);
    fit.fit();
    const session = connect(term);
    const resize = () => {
      fit.fit();
      session.resize(term.cols, term.rows);
    };
    const observer = new ResizeObserver(resize);
    observer.observe(element.current);
    term.focus();
    return () => {
      observer.disconnect();
      session.close();
      term.dispose();
    };
    // `connect` is made once per mount by its owner; a new session per render would be wrong.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return <div className="terminal" ref={element} aria-label={label} />;
}
