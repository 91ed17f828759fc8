/**
 * Dates on the IMAP wire: date-time (INTERNALDATE, APPEND), the search date (dd-Mon-yyyy),
 * and the calendar day of an RFC 5322 Date header for SENTBEFORE/SENTON/SENTSINCE.
 */
import { ImapSyntaxError } from './types.js';

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function monthIndex(name: string): number {
  return MONTHS.findIndex((m) => m.toLowerCase() === name.toLowerCase());
}

function daysInMonth(year: number, month0: number): number {
  return new Date(Date.UTC(year, month0 + 1, 0)).getUTCDate();
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** 'YYYY-MM-DD', or null when the day does not exist. */
function calendarDayOf(year: number, month0: number, day: number): string | null {
  if (month0 < 0 || day < 1 || year < 1 || day > daysInMonth(year, month0)) return null;
  return `${pad(year, 4)}-${pad(month0 + 1)}-${pad(day)}`;
}

/** A search date (date-text "1-Feb-2024", optionally quoted already removed) as 'YYYY-MM-DD'. */
export function parseSearchDate(text: string): string {
  const m = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/.exec(text);
  const day = m && calendarDayOf(Number(m[3]), monthIndex(m[2]), Number(m[1]));
  if (!day) throw new ImapSyntaxError(`Invalid date: ${text.slice(0, 30)}`);
  return day;
}

export interface DateTime {
  date: Date;
  /** The zone the client gave, in minutes east of UTC. */
  offsetMinutes: number;
}

/** date-time without its quotes: "01-Jan-2020 10:00:00 +0000" (day may be " 1" or "1"). */
export function parseDateTimeWithZone(text: string): DateTime {
  const m = /^ ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})$/.exec(text);
  const invalid = () => new ImapSyntaxError(`Invalid date-time: ${text.slice(0, 40)}`);
  if (!m) throw invalid();
  const [year, month0, day] = [Number(m[3]), monthIndex(m[2]), Number(m[1])];
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6])];
  const [zh, zm] = [Number(m[8]), Number(m[9])];
  if (!calendarDayOf(year, month0, day) || hour > 23 || minute > 59 || second > 60 || zm > 59) throw invalid();
  const offsetMinutes = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  const utc = Date.UTC(year, month0, day, hour, minute, Math.min(second, 59)) - offsetMinutes * 60_000;
  return { date: new Date(utc), offsetMinutes };
}

/** The instant of a date-time (see parseDateTimeWithZone), or null if it is not one. */
export function parseDateTime(text: string): Date | null {
  try {
    return parseDateTimeWithZone(text).date;
  } catch (err) {
    if (err instanceof ImapSyntaxError) return null;
    throw err;
  }
}

/** date-time without quotes, e.g. "01-Jan-2020 10:00:00 +0000", in the given zone. */
export function formatDateTime(date: Date, offsetMinutes = 0): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${pad(local.getUTCDate())}-${MONTHS[local.getUTCMonth()]}-${pad(local.getUTCFullYear(), 4)} ` +
    `${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} ` +
    `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/** The calendar day ('YYYY-MM-DD') of an instant in a zone (minutes east of UTC). */
export function calendarDay(date: Date, offsetMinutes: number): string {
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  return `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}`;
}

const RFC5322_DATE =
  /^\s*(?:[A-Za-z]{3,}\s*,\s*)?([0-9]{1,2})\s+([A-Za-z]{3})[A-Za-z]*\.?\s+([0-9]{2,4})(?:\s+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?(?:\s*([+-][0-9]{4}|[A-Za-z]{1,5}))?)?/;

const NAMED_ZONES: Readonly<Record<string, number>> = {
  UT: 0, GMT: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
};

interface HeaderDate {
  year: number;
  month0: number;
  day: number;
  utcMillis: number | null;
}

function parseHeaderDate(value: string): HeaderDate | null {
  const m = RFC5322_DATE.exec(value);
  if (!m) return null;
  const month0 = monthIndex(m[2]);
  let year = Number(m[3]);
  // RFC 5322 4.3: two-digit years below 50 are 20xx, others 19xx; three-digit years add 1900.
  if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3].length === 3) year += 1900;
  const day = Number(m[1]);
  if (!calendarDayOf(year, month0, day)) return null;
  let utcMillis: number | null = null;
  if (m[4] !== undefined) {
    const zone = m[7];
    let offset = 0;
    if (zone && /^[+-]/.test(zone)) offset = (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3)));
    else if (zone) offset = NAMED_ZONES[zone.toUpperCase()] ?? 0;
    utcMillis = Date.UTC(year, month0, day, Number(m[4]), Number(m[5]), Number(m[6] ?? 0)) - offset * 60_000;
  }
  return { year, month0, day, utcMillis };
}

/**
 * The calendar day of a Date header as written, time and zone disregarded (RFC 9051 6.4.4
 * SENTON etc.): "Mon, 1 Jan 2024 23:30:00 -0800" is 2024-01-01. Null if unparsable.
 */
export function sentDay(dateHeader: string): string | null {
  const d = parseHeaderDate(dateHeader);
  return d ? calendarDayOf(d.year, d.month0, d.day) : null;
}

/** A Date header as an instant (for SORT DATE, RFC 5256), or null if unparsable. */
export function sentTime(dateHeader: string): number | null {
  return parseHeaderDate(dateHeader)?.utcMillis ?? null;
}
