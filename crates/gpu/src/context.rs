//! The device: adapter choice, the limits the kernels are sized for, and errors the caller can act on.

use std::sync::{Arc, Mutex};

use crate::GpuError;
use crate::kernels::{KernelSet, Kernels};

/// A wgpu device and queue with what the engine needs to know about them.
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pub(crate) limits: wgpu::Limits,
    /// Set when the device is lost or reports an error nobody caught; every later call fails with it.
    /// The first failure the device reported on its own (lost, out of memory, an uncaptured error).
    failure: Arc<Mutex<Option<DeviceFailure>>>,
    /// Pipelines made on this device, by head size and kernel set (`Kernels::new`).
    pub(crate) kernels: Mutex<Vec<(usize, KernelSet, Kernels)>>,
}

/// What the page's badge and `unmask bench` show about the device.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    /// A software rasteriser (lavapipe, SwiftShader, WARP): usually slower than the CPU engine.
    pub is_software: bool,
    pub max_storage_binding: u64,
    pub max_workgroup_storage: u32,
    pub max_invocations: u32,
}

/// What the device's callbacks report, kept until the next call checks it.
enum DeviceFailure {
    Lost(String),
    OutOfMemory,
    Internal(String),
}

impl Gpu {
    /// The default high-performance adapter (a software one only if nothing else exists).
    pub async fn new() -> Result<Self, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                force_fallback_adapter: false,
                compatible_surface: None,
                apply_limit_buckets: false,
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        // Ask for what the adapter has, so large models can use big bindings; kernels size themselves to it.
        let limits = adapter.limits();
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("unmask"),
                required_features: wgpu::Features::empty(),
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| GpuError::NoAdapter(format!("{}: {e}", info.name)))?;
        let failure = Arc::new(Mutex::new(None));
        let lost = failure.clone();
        device.set_device_lost_callback(move |reason, message| {
            lost.lock().expect("failure slot").get_or_insert(DeviceFailure::Lost(format!("{reason:?}: {message}")));
        });
        let uncaught = failure.clone();
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            let error = match error {
                wgpu::Error::OutOfMemory { .. } => DeviceFailure::OutOfMemory,
                other => DeviceFailure::Internal(other.to_string()),
            };
            uncaught.lock().expect("failure slot").get_or_insert(error);
        }));
        Ok(Self { device, queue, info, limits, failure, kernels: Mutex::default() })
    }

    pub fn summary(&self) -> AdapterSummary {
        let name = self.info.name.to_lowercase();
        AdapterSummary {
            name: self.info.name.clone(),
            backend: format!("{:?}", self.info.backend),
            is_software: self.info.device_type == wgpu::DeviceType::Cpu
                || ["llvmpipe", "lavapipe", "swiftshader", "warp"].iter().any(|s| name.contains(s)),
            max_storage_binding: self.limits.max_storage_buffer_binding_size,
            max_workgroup_storage: self.limits.max_compute_workgroup_storage_size,
            max_invocations: self.limits.max_compute_invocations_per_workgroup,
        }
    }

    /// Destroys the device, as a driver reset or a lost GPU would: every later step fails with
    /// [`GpuError::DeviceLost`]. For tests of what the page does then.
    pub fn destroy(&self) {
        self.failure
            .lock()
            .expect("failure slot")
            .get_or_insert(DeviceFailure::Lost("the device was destroyed".into()));
        self.device.destroy();
    }

    /// The first device failure, if any happened.
    pub(crate) fn check(&self) -> Result<(), GpuError> {
        match self.failure.lock().expect("failure slot").as_ref() {
            Some(DeviceFailure::Lost(why)) => Err(GpuError::DeviceLost(why.clone())),
            Some(DeviceFailure::OutOfMemory) => Err(GpuError::OutOfMemory("the device ran out of memory".into())),
            Some(DeviceFailure::Internal(what)) => Err(GpuError::Internal(what.clone())),
            None => Ok(()),
        }
    }

    /// Runs `create` and turns an out-of-memory or validation error it raises into a `GpuError`.
    pub(crate) async fn guarded<T>(&self, create: impl FnOnce() -> T) -> Result<T, GpuError> {
        let out_of_memory = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let validation = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let value = create();
        let invalid = validation.pop().await;
        let oom = out_of_memory.pop().await;
        if let Some(error) = oom {
            return Err(GpuError::OutOfMemory(error.to_string()));
        }
        if let Some(error) = invalid {
            return Err(GpuError::Internal(error.to_string()));
        }
        self.check()?;
        Ok(value)
    }

    /// Waits until the queue has finished everything submitted so far.
    pub(crate) async fn idle(&self) -> Result<(), GpuError> {
        let (sender, receiver) = crate::oneshot::channel();
        self.queue.on_submitted_work_done(move || sender.send(()));
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Internal(e.to_string()))?;
        receiver.await;
        self.check()
    }

    /// Waits for `buffer` (MAP_READ) to map and copies out its first `bytes` bytes.
    pub(crate) async fn read(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>, GpuError> {
        let slice = buffer.slice(..bytes);
        let (sender, receiver) = crate::oneshot::channel();
        slice.map_async(wgpu::MapMode::Read, move |result| sender.send(result));
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| GpuError::Internal(e.to_string()))?;
        let mapped = receiver.await;
        self.check()?;
        mapped.map_err(|e| GpuError::Internal(format!("reading results back: {e}")))?;
        let data = slice.get_mapped_range().map_err(|e| GpuError::Internal(e.to_string()))?.to_vec();
        buffer.unmap();
        Ok(data)
    }
}
