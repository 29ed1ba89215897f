//! `engine::Source` over the Prometheus HTTP API: one instant query per dimension (the
//! daemon batches many dimensions per request through `batch`).

use super::batch::{BatchItem, measure_one};
use super::client::PromClient;
use crate::duration::PromDuration;
use crate::engine::{Measurement, Source, SourceError};
use crate::spec::{Dimension, ServiceSpec, SloSpec};

#[derive(Debug, Clone)]
pub struct PrometheusSource {
    client: PromClient,
}

impl PrometheusSource {
    pub fn new(client: PromClient) -> PrometheusSource {
        PrometheusSource { client }
    }

    pub fn client(&self) -> &PromClient {
        &self.client
    }
}

impl Source for PrometheusSource {
    async fn measure(
        &self,
        _service: &ServiceSpec,
        slo: &SloSpec,
        dimension: Dimension,
        // Always `slo.measured_windows(dimension)`, which the query builder reads itself.
        _windows: &[PromDuration],
        at_ms: i64,
    ) -> Result<Measurement, SourceError> {
        measure_one(&self.client, BatchItem { slo, dimension }, at_ms).await
    }
}
