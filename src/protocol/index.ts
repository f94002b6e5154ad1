// `fieldsync/protocol`: the wire formats the server and devices speak (y-websocket messages as fieldsync
// uses them, the /device frames, close codes, receipts and reason codes), for apps and tools that talk
// to a fieldsync server without the device SDK.

export * from './codes.ts'
export * from './device-frames.ts'
export * from './receipts.ts'
export * from './sync-messages.ts'
