//! Every buffer the engine creates, counted while it lives, so a test can show that restarting runs leaks
//! none (the page's soak test reads [`live_buffers`] through a debug hook).

use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::Gpu;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many buffers this process's GPU engines hold now.
pub fn live_buffers() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// A `wgpu::Buffer` that is counted from creation to drop; it reads as the buffer it wraps.
#[derive(Debug)]
pub struct Buffer(wgpu::Buffer);

impl Deref for Buffer {
    type Target = wgpu::Buffer;

    fn deref(&self) -> &wgpu::Buffer {
        &self.0
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Buffer {
    fn counted(buffer: wgpu::Buffer) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Self(buffer)
    }
}

impl Gpu {
    /// An uninitialised buffer.
    pub(crate) fn buffer(&self, descriptor: &wgpu::BufferDescriptor<'_>) -> Buffer {
        Buffer::counted(self.device.create_buffer(descriptor))
    }

    /// A buffer holding `descriptor.contents`.
    pub(crate) fn buffer_with(&self, descriptor: &wgpu::util::BufferInitDescriptor<'_>) -> Buffer {
        use wgpu::util::DeviceExt;
        Buffer::counted(self.device.create_buffer_init(descriptor))
    }
}
