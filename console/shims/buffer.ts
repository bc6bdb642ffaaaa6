// Buffer for the browser bundle: handlers/flags/validation.ts measures UTF-8 sizes with it.
const encoder = new TextEncoder();

export const Buffer = {
  byteLength: (text: string): number => encoder.encode(text).length,
};
