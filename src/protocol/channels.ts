/** Payment channels and kinds a notification may carry. Speech rules key off these names. */
export const CHANNELS = ['wechat', 'alipay', 'unionpay', 'paytm', 'phonepe', 'gpay', 'generic'] as const;
export type Channel = (typeof CHANNELS)[number];

export const KINDS = ['payment', 'refund'] as const;
export type Kind = (typeof KINDS)[number];
