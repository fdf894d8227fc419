/**
 * cnnfeat as a library: scan labelled image folders, extract CNN features to disk, train and
 * score classifiers (SVMs, logistic regression). The CLI (`cnnfeat`) is a thin layer over these functions.
 */
export { CnnfeatError, ExitCode } from './errors.js';
export { scanDataset, collectImages, assertUsableDataset, IMAGE_EXTENSIONS, type Dataset, type Sample } from './dataset/scan.js';
export { findGivenSplit, stratifiedSplit } from './dataset/split.js';
export { decodeImage, DecodeError, ICC_MODES, type DecodeOptions, type IccMode } from './image/decode.js';
export { RESIZE_MODES, RESIZE_KERNELS, type ResizeMode, type ResizeKernel } from './image/resize.js';
export { preprocessInto, PREPROCESS_MODES, type PreprocessMode } from './image/preprocess.js';
export { listCards, findCard, type ModelCard, type ModelSource } from './models/card.js';
export { pullModel, installedModel, type InstalledModel } from './models/download.js';
export { pullHttpModel } from './models/http-model.js';
export { addUserCard, type AddCardOptions } from './pipeline/add-model.js';
export { resolveModel, isModelUrl, type ResolvedModel } from './models/resolve.js';
export { cacheDir } from './util/cache.js';
export { initBackend, type BackendChoice } from './engines/backend.js';
export { loadExtractor, listLayers, type LayerInfo } from './engines/tfjs.js';
export { loadEngine, engineStatus, type EngineRequest } from './engines/select.js';
export { loadOnnxExtractor } from './engines/onnx/engine.js';
export { loadUserOnnxExtractor, listOnnxTensors, type UserOnnxSource, type OnnxListing, type OnnxTensorInfo } from './engines/onnx/user-graph.js';
export { readOnnxModel, type OnnxModel, type OnnxImageInput } from './formats/onnx-model.js';
export { POOLS, ENGINES, ENGINE_CHOICES, type FeatureExtractor, type EngineChoice, type EngineName, type PoolMode, type CutSpec, type EngineDescription } from './engines/engine.js';
export { loadGraphExtractor, listGraphNodes, type GraphExtractorOptions, type GraphNodeInfo } from './engines/tfjs-graph.js';
export { readNpy, npyHeader } from './features/npy.js';
export { readFeatureSet, readFeatureIndex, type FeatureSet, type FeatureIndex } from './features/reader.js';
export { FeatureWriter } from './features/writer.js';
export { featureDirState, type ShardInfo, type UpdateCounts, type FeatureManifest, type ExtractSettings, type FeatureSignature, type Plan } from './features/schema.js';
export { trainSvm, predictSvm, svcDecisionValues, type SvmModel, type SvmOptions } from './classifiers/svm.js';
export { selectModel, parseGrid, DEFAULT_GRID, type Grid, type ModelSelection, type CvResult } from './classifiers/model-selection.js';
export { kernelMatrix } from './classifiers/kernel-matrix.js';
export { loadClassifier, saveClassifier, type ClassifierFile } from './classifiers/model-file.js';
export { computeMetrics, type Metrics } from './metrics/metrics.js';
export { formatMetrics } from './metrics/format.js';
export { loadFeatureModel, DEFAULT_MODEL, type FeatureModel, type FeatureModelOptions } from './pipeline/feature-model.js';
export { extractFeatures, type ExtractOptions, type ExtractResult } from './pipeline/extract.js';
export { updateFeatures, type UpdateResult } from './pipeline/update.js';
export { mergeFeatureDirs, type MergeOptions } from './features/merge.js';
export { acquireLock, withLock, LOCK_FILE, type DirLock, type LockHolder } from './util/lock.js';
export { parseShard, selectShard, type ShardSpec } from './dataset/shard.js';
export { trainClassifier, type TrainOptions } from './pipeline/train.js';
export { trainModel, predictModel, planTraining, describeModel, scoreKindOf, scoreMeaning, CLASSIFIERS, type ClassifierChoice, type ClassifierModel, type TrainedModel } from './classifiers/classifier.js';
export { trainLinear, predictLinear, LINEAR_DEFAULTS, type LinearModel, type LinearOptions } from './classifiers/linear-model.js';
export type { ScoreKind } from './classifiers/scores.js';
export { writeReport, buildReport } from './report/report.js';
export { renderReport, type ReportData } from './report/html.js';
export { evaluateClassifier, type Evaluation } from './pipeline/evaluate.js';
export { predictImages, type ImagePrediction } from './pipeline/predict.js';
export { runPipeline, type RunOptions, type RunResult } from './pipeline/run.js';
