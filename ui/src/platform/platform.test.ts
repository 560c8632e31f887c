import { describe, expect, it } from 'vitest';
import { toWireError } from './platform';

describe('toWireError', () => {
  it('keeps code, message and field of a wire error', () => {
    expect(
      toWireError({ code: 'invalid_setting', message: 'bad', field: 'baresipCtrlAddress' }),
    ).toEqual({ code: 'invalid_setting', message: 'bad', field: 'baresipCtrlAddress' });
  });

  it('gives field null when it is missing, empty or not a string', () => {
    expect(toWireError({ code: 'line_offline', message: 'x' })).toEqual({
      code: 'line_offline',
      message: 'x',
      field: null,
    });
    expect(toWireError({ code: 'invalid_setting', field: '' }).field).toBeNull();
    expect(toWireError({ code: 'invalid_setting', field: 7 }).field).toBeNull();
  });

  it('turns anything else into an internal error without a field', () => {
    expect(toWireError('boom')).toEqual({ code: 'internal', message: 'boom', field: null });
    expect(toWireError(new Error('bang'))).toEqual({
      code: 'internal',
      message: 'bang',
      field: null,
    });
    expect(toWireError({ code: '' })).toEqual({
      code: 'internal',
      message: '[object Object]',
      field: null,
    });
  });
});
