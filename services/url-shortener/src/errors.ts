import { defineProblems } from '@sysdesign/platform';

/** The URL shortener's stable error codes; each maps to a problem+json `type`. */
export const errors = defineProblems({
  URLSHORT_ERR_NOT_FOUND: { status: 404, title: 'Short link not found' },
  URLSHORT_ERR_EXPIRED: { status: 410, title: 'Short link expired' },
  URLSHORT_ERR_DELETED: { status: 410, title: 'Short link deleted' },
  URLSHORT_ERR_CLICK_LIMIT_REACHED: { status: 410, title: 'Short link click limit reached' },
  URLSHORT_ERR_ALIAS_TAKEN: { status: 409, title: 'Alias already taken' },
  URLSHORT_ERR_NOT_OWNER: { status: 403, title: 'Only the creator may do this' },
  URLSHORT_ERR_NO_FREE_CODE: { status: 503, title: 'No free code found' },
  URLSHORT_ERR_DISABLED: { status: 410, title: 'Short link disabled' },
  URLSHORT_ERR_QR_BUSY: { status: 503, title: 'QR rendering is busy' },
});
