<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1">
<context>
    <name>CheckEnvironmentAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="48"/>
        <source>Check the environment (versions, GPU)</source>
        <translation>检查运行环境（版本、GPU）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="51"/>
        <source>Reports what rsseg runs on, as a text you can copy into a bug report: the versions of QGIS, Python, numpy, GDAL, rasterio, torch, onnxruntime and onnx and the folder each was imported from; onnxruntime&apos;s available execution providers and the one a tiny test model really ran on (a CUDA provider can be listed and still fall back to the CPU); whether torch can use CUDA and the GPU&apos;s name; and the command that installs what is missing.

Nothing is installed or changed. Missing torch or onnxruntime is reported, not an error.
OUTPUT_REPORT: the text file to write (optional; the report is in the log either way).
Results: QGIS_VERSION, PYTHON_VERSION, NUMPY_VERSION, GDAL_VERSION, TORCH_VERSION, ONNXRUNTIME_VERSION (empty when missing), ORT_PROVIDERS (available, comma-separated), ORT_USED_PROVIDER, TORCH_CUDA, GPU_NAME, MISSING (comma-separated) and INSTALL_COMMAND, for models and scripts.</source>
        <translation>报告 rsseg 的运行环境，文本可直接复制到问题报告中：QGIS、Python、numpy、GDAL、rasterio、torch、onnxruntime 和 onnx 的版本以及各自的导入位置；onnxruntime 可用的执行提供程序，以及一个微型测试模型实际运行所用的提供程序（CUDA 提供程序可能被列出却仍回退到 CPU）；torch 能否使用 CUDA 以及 GPU 名称；以及安装缺失组件的命令。

不会安装或更改任何内容。缺少 torch 或 onnxruntime 会被报告，而不是报错。
OUTPUT_REPORT：要写出的文本文件（可选；报告总会出现在日志中）。
结果：QGIS_VERSION、PYTHON_VERSION、NUMPY_VERSION、GDAL_VERSION、TORCH_VERSION、ONNXRUNTIME_VERSION（缺失时为空）、ORT_PROVIDERS（可用的，逗号分隔）、ORT_USED_PROVIDER、TORCH_CUDA、GPU_NAME、MISSING（逗号分隔）和 INSTALL_COMMAND，可供模型和脚本使用。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="65"/>
        <source>Report</source>
        <translation>报告</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>QGIS version</source>
        <translation>QGIS 版本</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>Python version</source>
        <translation>Python 版本</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>numpy version</source>
        <translation>numpy 版本</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>GDAL version</source>
        <translation>GDAL 版本</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>torch version</source>
        <translation>torch 版本</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>onnxruntime version</source>
        <translation>onnxruntime 版本</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>onnxruntime execution providers</source>
        <translation>onnxruntime 执行提供程序</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>Provider the test model ran on</source>
        <translation>测试模型实际使用的提供程序</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>GPU name</source>
        <translation>GPU 名称</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>Missing packages</source>
        <translation>缺失的软件包</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="68"/>
        <source>Install command</source>
        <translation>安装命令</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="83"/>
        <source>torch can use CUDA</source>
        <translation>torch 可使用 CUDA</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/check_environment.py" line="93"/>
        <source>Cancelled: no report was written</source>
        <translation>已取消：未写出报告</translation>
    </message>
</context>
<context>
    <name>ClusterMapAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="36"/>
        <source>Cluster map (unsupervised land cover from SDCluster)</source>
        <translation>聚类图（基于 SDCluster 的无监督土地覆盖）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="39"/>
        <source>Maps the clusters an SDCluster model has learned: every pixel gets the cluster (prototype) it is most similar to. No labels are needed; use it to judge a pretrained model before fine-tuning, or as an unsupervised land-cover map whose clusters you name yourself.

CHECKPOINT: an SDCluster checkpoint (.pt from rsseg:pretrain_sdcluster) or a cluster model (.onnx) exported by this algorithm before (then CLUSTERS and BRANCH are already fixed in it).
CLUSTERS: 0 keeps one cluster per prototype that occurs in the input; N merges the prototypes into N clusters of similar ones (agglomerative clustering, average linkage on cosine distance), e.g. the number of land-cover classes you expect.
EXTENT: only this area. TILE_SIZE: 0 takes 512 pixels; tiles overlap and their probabilities are blended, so the map has no seams, and memory does not grow with the raster&apos;s size.
BRANCH (advanced): the network whose clusters are shown: the teacher (the moving average, default) or the student (the encoder fine-tuning starts from; ahead of the teacher after short training).
OUTPUT: class raster (uint8, 255 = nodata), styled with well-separated colours and named &apos;cluster 0&apos;, &apos;cluster 1&apos;, ...
OUTPUT_MODEL: optionally keep the exported cluster model (.onnx) to run it again with rsseg:segment (its tile size is dynamic, so Deepness does not load it).
Score it against a reference with rsseg:evaluate, MODE clusters (clusters are matched to classes).</source>
        <translation>绘制 SDCluster 模型学到的聚类：每个像元归入与其最相似的聚类（原型）。无需标注；可用于在微调前评判预训练模型，或作为一幅无监督土地覆盖图，由你自己为各聚类命名。

CHECKPOINT：SDCluster 检查点（rsseg:pretrain_sdcluster 生成的 .pt），或此前由本算法导出的聚类模型（.onnx，此时 CLUSTERS 和 BRANCH 已固定在其中）。
CLUSTERS：0 表示输入中出现的每个原型各为一个聚类；N 表示将原型合并为 N 个相似原型组成的聚类（凝聚聚类，基于余弦距离的平均连接），例如你预期的土地覆盖类别数。
EXTENT：只处理该范围。TILE_SIZE：0 表示 512 像元；瓦片相互重叠并混合其概率，因此结果图没有接缝，内存占用也不随栅格大小增长。
BRANCH（高级）：显示哪个网络的聚类：教师网络（滑动平均，默认）或学生网络（微调起点的编码器；短时间训练后领先于教师网络）。
OUTPUT：类别栅格（uint8，255 = 无数据），使用区分明显的颜色，命名为 'cluster 0'、'cluster 1'……
OUTPUT_MODEL：可选，保留导出的聚类模型（.onnx），以便用 rsseg:segment 再次运行（其瓦片大小是动态的，因此 Deepness 不会加载它）。
可用 rsseg:evaluate（MODE 为 clusters，聚类会先与类别匹配）将其与参考数据比较评分。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="60"/>
        <source>SDCluster checkpoint (.pt) or cluster model (.onnx)</source>
        <translation>SDCluster 检查点（.pt）或聚类模型（.onnx）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="64"/>
        <source>Number of clusters (0: one per prototype used)</source>
        <translation>聚类数（0：每个使用到的原型一个）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="67"/>
        <source>Tile size in pixels (0: from the model)</source>
        <translation>瓦片大小（像元，0：取自模型）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="71"/>
        <source>Network</source>
        <translation>网络</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="75"/>
        <source>Cluster map</source>
        <translation>聚类图</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="76"/>
        <source>Keep the cluster model (.onnx)</source>
        <translation>保留聚类模型（.onnx）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="123"/>
        <source>CLUSTERS is ignored: the .onnx cluster model fixes its clusters</source>
        <translation>CLUSTERS 被忽略：.onnx 聚类模型已固定其聚类</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="103"/>
        <source>{} clusters: {}</source>
        <translation>{} 个聚类：{}</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="85"/>
        <source>CHECKPOINT: {!r} is not a file; choose an SDCluster .pt or .onnx</source>
        <translation>CHECKPOINT：{!r} 不是文件；请选择 SDCluster 的 .pt 或 .onnx 文件</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/cluster_map.py" line="148"/>
        <source>CHECKPOINT: exporting a .pt checkpoint needs torch and onnx. {} Or pass a cluster .onnx exported elsewhere.</source>
        <translation>CHECKPOINT：导出 .pt 检查点需要 torch 和 onnx。{} 或者改用在别处导出的聚类 .onnx 模型。</translation>
    </message>
</context>
<context>
    <name>EvaluateAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="55"/>
        <source>Evaluate segmentation (accuracy assessment)</source>
        <translation>评估分割结果（精度评价）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="79"/>
        <source>Prediction (class or cluster raster)</source>
        <translation>预测结果（类别或聚类栅格）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="81"/>
        <source>Reference (raster of class ids, or polygons)</source>
        <translation>参考数据（类别编号栅格或面图层）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="84"/>
        <source>Class field (polygon reference only)</source>
        <translation>类别字段（仅用于面参考数据）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="87"/>
        <source>Reference value to ignore</source>
        <translation>要忽略的参考值</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="90"/>
        <source>Prediction holds</source>
        <translation>预测结果的内容</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="95"/>
        <source>Report</source>
        <translation>报告</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="97"/>
        <source>Scores table</source>
        <translation>得分表</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="99"/>
        <source>Mean IoU</source>
        <translation>平均 IoU</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="100"/>
        <source>Overall accuracy</source>
        <translation>总体精度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="101"/>
        <source>Cohen&apos;s kappa</source>
        <translation>Cohen's kappa 系数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="58"/>
        <source>Compares a classified raster (PREDICTION) with reference data and reports the confusion matrix, per-class IoU, F1, precision and recall, mean IoU (over classes present in the reference), overall accuracy and Cohen&apos;s kappa.

REFERENCE: a raster of class ids, or a polygon layer whose REFERENCE_FIELD holds the class (integer ids, or class names: matched by name to the class names stored with the prediction, else numbered in sorted order). A reference on another grid or CRS is resampled (nearest) onto the prediction&apos;s grid. Reference pixels equal to IGNORE_VALUE and prediction pixels equal to 255 (rsseg&apos;s nodata) are skipped.

MODE &apos;clusters&apos;: prediction values are cluster ids (e.g. from rsseg:cluster_map); each cluster is first matched to a class: one-to-one (Hungarian) when there are as many clusters as classes, by majority vote otherwise.

PREVIEW_LAYERS (optional): more rasters to show in the report, e.g. the image that was segmented and a cluster map. The report shows previews (small PNG pictures, also written beside it): these images, then the prediction and the reference, then those with a colour table (class maps).

Outputs: an HTML report with previews and a confusion matrix coloured by share, a table (.csv or .json, by the file extension) with the same numbers, and MIOU, OVERALL_ACCURACY and KAPPA as numbers for models.</source>
        <translation>将分类栅格（PREDICTION）与参考数据比较，报告混淆矩阵、各类别的 IoU、F1、精确率和召回率、平均 IoU（在参考数据中出现的类别上求平均）、总体精度和 Cohen's kappa 系数。

REFERENCE：类别编号栅格，或由 REFERENCE_FIELD 字段给出类别的面图层（整数编号或类别名称：按名称与预测结果中保存的类别名称匹配，否则按排序顺序编号）。网格或坐标参考系不同的参考数据会以最近邻方式重采样到预测结果的网格上。参考数据中等于 IGNORE_VALUE 的像元和预测结果中等于 255（rsseg 的无数据值）的像元不参与统计。

MODE 为 'clusters'：预测值为聚类编号（例如来自 rsseg:cluster_map）；每个聚类先匹配到一个类别：聚类数与类别数相同时一一匹配（匈牙利算法），否则按多数投票。

PREVIEW_LAYERS（可选）：要在报告中显示的更多栅格，例如被分割的影像和聚类图。报告显示预览图（小幅 PNG 图片，同时写在报告旁边）：先是这些影像，然后是预测结果和参考数据，最后是带颜色表的栅格（类别图）。

输出：带预览图和按比例着色的混淆矩阵的 HTML 报告、包含相同数值的表格（.csv 或 .json，由文件扩展名决定），以及供模型使用的数值 MIOU、OVERALL_ACCURACY 和 KAPPA。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="92"/>
        <source>More rasters to preview in the report (image, cluster map)</source>
        <translation>在报告中预览的更多栅格（影像、聚类图）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="31"/>
        <source>classes</source>
        <translation>类别</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="31"/>
        <source>clusters</source>
        <translation>聚类</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="109"/>
        <source>{}: a polygon reference is rasterized to bytes; use 0..255</source>
        <translation>{}：多边形参考数据会被栅格化为字节型；请使用 0..255</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="112"/>
        <source>Rasterizing &apos;{}&apos; ({}) onto the prediction&apos;s grid</source>
        <translation>正在将“{}”（{}）栅格化到预测结果的网格上</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="118"/>
        <source>{}: choose a raster of class ids or a polygon layer</source>
        <translation>{}：请选择类别编号栅格或多边形图层</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="132"/>
        <source>{}: use a .csv or .json file name, got {}</source>
        <translation>{}：请使用 .csv 或 .json 文件名，当前为 {}</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="136"/>
        <source>Cancelled: no report was written</source>
        <translation>已取消：未写出报告</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/evaluate.py" line="142"/>
        <source>Report: {}</source>
        <translation>报告：{}</translation>
    </message>
</context>
<context>
    <name>ExportOnnxAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="32"/>
        <source>Export a fine-tuned checkpoint to ONNX</source>
        <translation>将微调检查点导出为 ONNX</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="57"/>
        <source>Fine-tuned checkpoint</source>
        <translation>微调检查点</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="59"/>
        <source>Tile size in pixels (0: default)</source>
        <translation>瓦片大小（像元，0：默认）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="72"/>
        <source>ONNX model</source>
        <translation>ONNX 模型</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="84"/>
        <source>Cancelled: no model was written</source>
        <translation>已取消：未写出模型</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="67"/>
        <source>Quantize to int8 (faster on CPU, checked against fp32)</source>
        <translation>量化为 int8（CPU 上更快，并与 fp32 比较检查）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="69"/>
        <source>Calibration rasters for int8 (empty: the training rasters)</source>
        <translation>int8 校准栅格（留空：训练栅格）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="62"/>
        <source>Tile overlap in % (empty: 15)</source>
        <translation>瓦片重叠 %（留空：15）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="65"/>
        <source>Fixed tile size (for the Deepness plugin)</source>
        <translation>固定瓦片大小（用于 Deepness 插件）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="35"/>
        <source>Writes the network of a fine-tuned checkpoint as an ONNX model that &apos;Segment raster with an ONNX model&apos; (and, with FIXED_SHAPE, the Deepness plugin) can run.

The model outputs class probabilities (softmax in the graph) for any batch size, and carries its model card: class names and colours, bands, normalisation, tile size and overlap, and the training configuration. The export is run once with onnxruntime and compared with torch; a model that differs by more than 1e-4 is not written.
CHECKPOINT: a .pt file written by &apos;Fine-tune a segmentation model&apos;. Pretraining checkpoints have no segmentation head: fine-tune them first (for SDCluster cluster maps use &apos;Cluster map&apos;).
TILE_SIZE: tile edge stored in the card (0 = the training patch size, the geometry the model was trained on).
OVERLAP: tile overlap in percent stored in the card (default 15).
FIXED_SHAPE: fix the input&apos;s height and width to the tile size (the batch stays dynamic). Deepness only loads models of a fixed tile size; rsseg runs both forms, a fixed one only at its tile size.
QUANTIZE: write an int8 model instead (onnxruntime static quantization, QDQ), faster on a CPU (docs/performance.md). It is calibrated on patches of the CALIBRATION rasters (empty: the rasters the checkpoint was trained on) and checked against the fp32 model on other patches: the share of pixels keeping their class and the mIoU against fp32 are logged and stored in the model card.
CALIBRATION: rasters like the imagery you will segment (same bands), used only with QUANTIZE.</source>
        <translation>将微调检查点中的网络写为 ONNX 模型，可由“用 ONNX 模型分割栅格”（勾选 FIXED_SHAPE 时也可由 Deepness 插件）运行。

模型输出类别概率（图中包含 softmax），支持任意批大小，并携带模型卡：类别名称和颜色、波段、归一化、瓦片大小和重叠，以及训练配置。导出后会用 onnxruntime 运行一次并与 torch 的结果比较；差异超过 1e-4 的模型不会被写出。
CHECKPOINT：由“微调分割模型”写出的 .pt 文件。预训练检查点没有分割头：请先微调（SDCluster 聚类图请使用“聚类图”）。
TILE_SIZE：写入模型卡的瓦片边长（0 = 训练图块大小，即模型训练时的几何）。
OVERLAP：写入模型卡的瓦片重叠百分比（默认 15）。
FIXED_SHAPE：将输入的高和宽固定为瓦片大小（批大小仍为动态）。Deepness 只加载瓦片大小固定的模型；rsseg 两种形式都能运行，固定形式只能以其瓦片大小运行。
QUANTIZE：改为写出 int8 模型（onnxruntime 静态量化，QDQ 格式），在 CPU 上更快（见 docs/performance.md）。模型在 CALIBRATION 栅格的图块上校准（留空：检查点训练时使用的栅格），并在其他图块上与 fp32 模型比较：保持相同类别的像素比例以及相对 fp32 的 mIoU 会写入日志和模型卡。
CALIBRATION：与待分割影像相似的栅格（波段相同），仅在 QUANTIZE 时使用。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/export_onnx.py" line="72"/>
        <source>ONNX model (*.onnx)</source>
        <translation>ONNX 模型 (*.onnx)</translation>
    </message>
</context>
<context>
    <name>FinetuneAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="189"/>
        <source>Fine-tune a segmentation model</source>
        <translation>微调分割模型</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="247"/>
        <source>Image rasters</source>
        <translation>影像栅格</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="249"/>
        <source>Labels (class raster or polygon layer)</source>
        <translation>标注（类别栅格或面图层）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="252"/>
        <source>Class field (polygon labels)</source>
        <translation>类别字段（面标注）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="255"/>
        <source>Class names and colours: &apos;name[:#rrggbb], ...&apos; (optional)</source>
        <translation>类别名称和颜色：'name[:#rrggbb], ...'（可选）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="103"/>
        <source>Pretrained checkpoint (optional)</source>
        <translation>预训练检查点（可选）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="50"/>
        <source>Architecture</source>
        <translation>网络结构</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="54"/>
        <source>Backbone (deeplabv3plus)</source>
        <translation>骨干网络（deeplabv3plus）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="70"/>
        <source>Batch size</source>
        <translation>批大小</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="73"/>
        <source>Patch size (pixels, multiple of 16)</source>
        <translation>图块大小（像元，16 的倍数）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="77"/>
        <source>Learning rate</source>
        <translation>学习率</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="234"/>
        <source>Bands (1-based, comma separated; empty = all)</source>
        <translation>波段（从 1 开始，逗号分隔；留空 = 全部）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="132"/>
        <source>Share of blocks held out for validation</source>
        <translation>留作验证的区块比例</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="136"/>
        <source>Validation block size (pixels)</source>
        <translation>验证区块大小（像元）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="140"/>
        <source>Class weights</source>
        <translation>类别权重</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="144"/>
        <source>Freeze the encoder (linear probing)</source>
        <translation>冻结编码器（线性探测）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="110"/>
        <source>Weight decay</source>
        <translation>权重衰减</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="152"/>
        <source>Random seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="238"/>
        <source>Resume from OUTPUT_CHECKPOINT.last.pt if it exists</source>
        <translation>若 OUTPUT_CHECKPOINT.last.pt 存在则从其继续</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="240"/>
        <source>Output checkpoint</source>
        <translation>输出检查点</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="242"/>
        <source>Output ONNX model (optional)</source>
        <translation>输出 ONNX 模型（可选）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="367"/>
        <source>Cancelled: OUTPUT_CHECKPOINT was left as it was; the state reached is in {}; run again with RESUME to continue</source>
        <translation>已取消：OUTPUT_CHECKPOINT 保持原样；已达到的状态保存在 {} 中；勾选 RESUME 再次运行即可继续</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="50"/>
        <source>deeplabv3plus: ResNet encoder + ASPP (GraSS/SDCluster checkpoints); hrnet: from scratch; diff_hrnet: HRNet fused with a diffusion checkpoint&apos;s denoiser.</source>
        <translation>deeplabv3plus：ResNet 编码器 + ASPP（用于 GraSS/SDCluster 检查点）；hrnet：从头训练；diff_hrnet：与扩散检查点去噪器融合的 HRNet。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="54"/>
        <source>ResNet depth of the DeepLabV3+ encoder; must match a pretrained encoder.</source>
        <translation>DeepLabV3+ 编码器的 ResNet 深度；必须与预训练编码器一致。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="58"/>
        <source>DeepLabV3+ head</source>
        <translation>DeepLabV3+ 头部</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="58"/>
        <source>separable: depthwise-separable ASPP and decoder convolutions (as published); dense: plain 3x3 convolutions.</source>
        <translation>separable：ASPP 和解码器使用深度可分离卷积（与论文一致）；dense：普通 3x3 卷积。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="62"/>
        <source>Training steps</source>
        <translation>训练步数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="62"/>
        <source>Optimiser steps in all: the length of the run. 0 = EPOCHS x the steps of one epoch.</source>
        <translation>优化器总步数，即训练的长度。0 = EPOCHS × 每轮步数。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="66"/>
        <source>Epochs (when STEPS is 0)</source>
        <translation>轮数（STEPS 为 0 时）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="66"/>
        <source>Passes of PATCHES_PER_EPOCH random crops; used only when STEPS is 0.</source>
        <translation>每轮 PATCHES_PER_EPOCH 个随机裁块的遍数；仅在 STEPS 为 0 时使用。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="70"/>
        <source>Random crops per optimiser step.</source>
        <translation>每个优化步的随机裁块数。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="73"/>
        <source>Edge of the random training crops. The exported model tiles at this size too, so at inference it sees what it saw in training.</source>
        <translation>随机训练裁块的边长。导出的模型也按此尺寸分块，因此推理时看到的与训练时一致。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="77"/>
        <source>AdamW peak learning rate, reached after the warm-up, then decayed to zero at the last step (cosine).</source>
        <translation>AdamW 峰值学习率：预热后达到，随后按余弦在最后一步衰减到零。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="81"/>
        <source>Share of labelled training tiles used</source>
        <translation>使用的已标注训练瓦片比例</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="81"/>
        <source>Keeps this share of the labelled training tiles (seeded); labels outside them never count. For few-label experiments.</source>
        <translation>保留此比例的已标注训练瓦片（按种子选择）；其外的标注从不计入。用于少标注实验。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="85"/>
        <source>Encoder learning-rate multiplier (pretrained encoder)</source>
        <translation>编码器学习率倍数（预训练编码器）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="85"/>
        <source>With PRETRAINED, the encoder learns at this multiple of LEARNING_RATE (e.g. 0.1), so a few noisy steps on few labels do not overwrite what pretraining learned. From scratch the whole network uses LEARNING_RATE.</source>
        <translation>使用 PRETRAINED 时，编码器以 LEARNING_RATE 的此倍数学习（如 0.1），使少量标注上的几步噪声更新不会覆盖预训练所学。从头训练时整个网络使用 LEARNING_RATE。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="100"/>
        <source>Ignored label value</source>
        <translation>忽略的标注值</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="100"/>
        <source>Label value that never counts in the loss or the scores (0..255).</source>
        <translation>从不计入损失和评分的标注值（0..255）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="103"/>
        <source>Checkpoint to start from (pretraining or fine-tuned); its bands and normalisation are reused.</source>
        <translation>起始检查点（预训练或微调）；沿用其波段和归一化。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="107"/>
        <source>Crops per epoch</source>
        <translation>每轮裁块数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="107"/>
        <source>0 = as many crops as labelled tiles (the labelled area once).</source>
        <translation>0 = 与已标注瓦片数相同的裁块数（覆盖已标注区域一次）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="110"/>
        <source>AdamW weight decay.</source>
        <translation>AdamW 权重衰减。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="113"/>
        <source>Warm-up share of the steps</source>
        <translation>预热步数比例</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="113"/>
        <source>The learning rate rises linearly over this share of the steps, then decays on a cosine to the last step.</source>
        <translation>学习率在此比例的步数内线性上升，然后按余弦衰减到最后一步。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="117"/>
        <source>Steps between validations</source>
        <translation>验证间隔步数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="117"/>
        <source>Validation mIoU, the best checkpoint and the resume checkpoint every this many steps; 0 = once per epoch.</source>
        <translation>每隔这么多步计算验证 mIoU，并保存最佳检查点和续训检查点；0 = 每轮一次。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="121"/>
        <source>Early-stopping patience (validations)</source>
        <translation>早停耐心（验证次数）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="121"/>
        <source>Stop after this many validations without a better mIoU; 0 = always train every step. Needs a validation set.</source>
        <translation>连续这么多次验证 mIoU 没有提升即停止；0 = 始终训练全部步数。需要验证集。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="132"/>
        <source>Whole spatial blocks go to validation, so validation pixels never sit next to training ones.</source>
        <translation>整块空间区域划入验证集，因此验证像素不会紧邻训练像素。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="136"/>
        <source>Edge of the square blocks the images are cut into for the train/validation split (at least PATCH_SIZE).</source>
        <translation>为划分训练/验证集而切分影像的方块边长（至少为 PATCH_SIZE）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="140"/>
        <source>none, or balanced: inverse class frequency on the training tiles (mean 1, at most 10).</source>
        <translation>none，或 balanced：按训练瓦片上类别频率的倒数加权（均值 1，最大 10）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="144"/>
        <source>Train the head only; the encoder&apos;s weights and BatchNorm statistics stay as loaded.</source>
        <translation>只训练头部；编码器的权重和 BatchNorm 统计保持加载时的值。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="148"/>
        <source>Mixed precision (CUDA only)</source>
        <translation>混合精度（仅 CUDA）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="148"/>
        <source>bf16 where the GPU supports it, else fp16 with loss scaling; no effect on the CPU.</source>
        <translation>GPU 支持时用 bf16，否则用带损失缩放的 fp16；在 CPU 上无效。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="152"/>
        <source>Seeds the split, LABEL_FRACTION, the crops and the initialisation: the same seed repeats the run.</source>
        <translation>为数据划分、LABEL_FRACTION、裁块和初始化设定种子：相同种子可重复训练。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="156"/>
        <source>Data loader workers</source>
        <translation>数据加载进程数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="156"/>
        <source>Processes reading crops in parallel; 0 = in the training process.</source>
        <translation>并行读取裁块的进程数；0 = 在训练进程中读取。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="305"/>
        <source>{}: expected a comma-separated list, got {!r}</source>
        <translation>{}：需要逗号分隔的列表，得到 {!r}</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="326"/>
        <source>LABELS: choose a class raster or a polygon layer</source>
        <translation>LABELS：请选择类别栅格或多边形图层</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="376"/>
        <source>best validation mIoU {:.4f} at step {}</source>
        <translation>最佳验证 mIoU {:.4f}，在第 {} 步</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="95"/>
        <source>Colour jitter (band standard deviations)</source>
        <translation>颜色抖动（波段标准差）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="95"/>
        <source>Each training crop&apos;s brightness shifts by up to this many band standard deviations (contrast by up to exp(0.3 x it)), so a model trained on one scene copes with another scene&apos;s radiometry; 0 = off.</source>
        <translation>每个训练裁块的亮度最多偏移这么多个波段标准差（对比度最多变化 exp(0.3 × 该值)），使在一个场景上训练的模型能适应另一场景的辐射特性；0 = 关闭。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="125"/>
        <source>State written to the output checkpoint</source>
        <translation>写入输出检查点的状态</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="125"/>
        <source>auto: the last state of a run that took every step (the end of the learning-rate schedule), the best-validation state of one that early stopping ended; best: always the state of best validation mIoU; last: always the last state. On few labels the held-out blocks are a noisy judge, and the last state scored better on unseen tiles (docs/training.md).</source>
        <translation>auto：若运行完成了全部步数（学习率调度的终点），取最后状态；若因提前停止而结束，取验证最佳状态；best：始终取验证 mIoU 最佳的状态；last：始终取最后状态。标注很少时，留出的验证块是一个有噪声的评判者，而最后状态在未见过的瓦片上得分更高（见 docs/training.md）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="192"/>
        <source>Trains a segmentation network on labelled imagery, from scratch or from a pretraining checkpoint (GraSS, SDCluster, diffusion), and saves the checkpoint KEEP_STATE names (auto: the last state, or the best-validation one when early stopping ended the run).

INPUT: one or more image rasters (files GDAL reads).
LABELS: a raster of class ids (any grid or CRS: resampled to each image, nearest neighbour; 255 = unlabelled) or a polygon layer with LABEL_FIELD holding class ids or class names.
CLASSES: optional &apos;name[:#rrggbb], ...&apos; in class-id order.
PRETRAINED: optional checkpoint to start from; its bands and normalisation are reused. Diffusion checkpoints need ARCHITECTURE diff_hrnet; GraSS/SDCluster ones deeplabv3plus with the same BACKBONE. A pretrained encoder learns at ENCODER_LR_SCALE x LEARNING_RATE.
Training: STEPS optimiser steps, each on BATCH_SIZE random crops of PATCH_SIZE pixels drawn anywhere inside the labelled training area; the learning rate warms up, then decays on a cosine to the last step. The exported model tiles at PATCH_SIZE, the size it was trained on.
Validation: whole spatial blocks (SPLIT_BLOCK_SIZE pixels, VAL_FRACTION of them) are held out, so validation patches never overlap training ones; every VALIDATE_EVERY steps the mIoU is logged, the best checkpoint kept, and after EARLY_STOPPING_PATIENCE validations without improvement the run stops. LABEL_FRACTION keeps only that share of the labelled training tiles (seeded).
Cancelling stops with an error, keeps OUTPUT_CHECKPOINT as it was and saves the state reached in OUTPUT_CHECKPOINT.last.pt; a later run with RESUME on (it is off by default, as for pretraining, so a run never silently continues an old one) continues from it.
OUTPUT_MODEL: optional ONNX model exported at the end (checked against torch), ready for &apos;Segment raster with an ONNX model&apos;.</source>
        <translation>在已标注影像上训练分割网络，可从头开始，也可从预训练检查点（GraSS、SDCluster、扩散）开始，并保存 KEEP_STATE 指定的检查点（auto：最后状态；若因提前停止而结束，则为验证最佳状态）。

INPUT：一个或多个影像栅格（GDAL 可读取的文件）。
LABELS：类别编号栅格（任意网格或坐标系：按最近邻重采样到每幅影像；255 = 未标注），或多边形图层，其 LABEL_FIELD 字段为类别编号或类别名称。
CLASSES：可选，按类别编号顺序写“名称[:#rrggbb], ...”。
PRETRAINED：可选的起始检查点；沿用其波段和归一化。扩散检查点需要 ARCHITECTURE diff_hrnet；GraSS/SDCluster 检查点需要 deeplabv3plus 和相同的 BACKBONE。预训练编码器以 ENCODER_LR_SCALE × LEARNING_RATE 学习。
训练：共 STEPS 个优化步，每步使用 BATCH_SIZE 个在已标注训练区域内任意位置抽取的 PATCH_SIZE 像素随机裁块；学习率先预热，再按余弦衰减到最后一步。导出的模型按训练时的尺寸 PATCH_SIZE 分块。
验证：整块空间区域（SPLIT_BLOCK_SIZE 像素，占 VAL_FRACTION）被留出，因此验证图块从不与训练图块重叠；每 VALIDATE_EVERY 步记录 mIoU、保留最佳检查点，连续 EARLY_STOPPING_PATIENCE 次验证没有提升则停止。LABEL_FRACTION 只保留该比例的已标注训练瓦片（按种子选择）。
取消会以错误结束，OUTPUT_CHECKPOINT 保持不变，已达到的状态保存在 OUTPUT_CHECKPOINT.last.pt；之后启用 RESUME 运行时从此继续（RESUME 默认关闭，与预训练一致，因此新的运行绝不会悄悄接着旧的运行）。
OUTPUT_MODEL：可选，训练结束时导出的 ONNX 模型（已与 torch 核对），可直接用于“用 ONNX 模型分割栅格”。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="372"/>
        <source>exporting the saved model to ONNX</source>
        <translation>正在将保存的模型导出为 ONNX</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="378"/>
        <source>saved the last state (step {})</source>
        <translation>已保存最后状态（第 {} 步）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="378"/>
        <source>saved the best-validation state (step {})</source>
        <translation>已保存验证最佳状态（第 {} 步）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="90"/>
        <source>Fusion learning-rate multiplier (Diff-HRNet)</source>
        <translation>融合模块学习率倍数（Diff-HRNet）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/finetune.py" line="90"/>
        <source>Diff-HRNet only: the fusions that feed the denoiser&apos;s features into HRNet start closed (the network starts as a plain HRNet) and learn at this multiple of LEARNING_RATE, so that a short run can open them.</source>
        <translation>仅用于 Diff-HRNet：将去噪器特征送入 HRNet 的融合模块初始为关闭状态（网络起初就是普通的 HRNet），其学习率为 LEARNING_RATE 的这一倍数，使较短的训练也能把它们打开。</translation>
    </message>
</context>
<context>
    <name>MapAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="49"/>
        <source>Input raster</source>
        <translation>输入栅格</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="50"/>
        <source>Extent (empty: whole raster; required for web layers)</source>
        <translation>范围（留空：整个栅格；网络图层必须填写）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="55"/>
        <source>Ground resolution in cm/px (empty: the model&apos;s; 0: the raster&apos;s own)</source>
        <translation>地面分辨率，厘米/像元（留空：取模型的；0：栅格自身的）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="58"/>
        <source>Largest read of a web or virtual layer, in pixels</source>
        <translation>网络或虚拟图层单次读取的最大像元数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="67"/>
        <source>Class polygons</source>
        <translation>类别多边形</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="70"/>
        <source>Polygons: merge regions smaller than (m2)</source>
        <translation>多边形：合并小于该面积的区域（平方米）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="73"/>
        <source>Polygons: simplification tolerance (map units, 0: none)</source>
        <translation>多边形：简化容差（地图单位，0：不简化）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="76"/>
        <source>Area per class (CSV)</source>
        <translation>各类别面积（CSV）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="79"/>
        <source>Execution provider used</source>
        <translation>使用的执行提供程序</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="80"/>
        <source>Area per class (JSON: class_id, class_name, pixels, area_m2, percent)</source>
        <translation>各类别面积（JSON：class_id、class_name、pixels、area_m2、percent）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="85"/>
        <source>INPUT: any raster layer. Local GDAL files (GeoTIFF, VRT mosaics, ...) are read directly; web (WMS/WMTS/XYZ), virtual and in-memory layers are first read through QGIS at the run&apos;s resolution into a temporary GeoTIFF.
EXTENT: only this area (any CRS). Required for web layers, which cover the whole world.
RESOLUTION: ground resolution in cm per pixel the model runs at. Empty: the model card&apos;s &apos;resolution&apos; (the imagery it was trained on); 0: the raster&apos;s own. When the raster differs by more than 5 %, it is resampled on the fly (GDAL warped VRT) and the outputs are written on that grid. Rasters in degrees or in web Mercator are always processed in the UTM zone of the area.
MAX_PIXELS (advanced): a web or virtual layer read larger than this is refused; raise it if your disk and time allow.
OUTPUT_VECTOR: optional polygons, one per connected region of a class, with class_id, class_name, area_m2 (ground area of its pixels) and confidence (mean probability of the chosen class); GeoPackage by default, styled with the class colours.
MIN_AREA: polygons only: regions smaller than this many square metres are merged into their largest neighbour (GDAL sieve) before polygonizing. The class raster is not changed.
SIMPLIFY: polygons only: Douglas-Peucker tolerance in map units of the output (metres for a metric CRS); 0 keeps the pixel outlines.
OUTPUT_AREAS: optional CSV with one row per class: class_id, class_name, pixels, area_m2, percent (of the valid pixels of the class raster). The same table is the CLASS_AREAS result (JSON).</source>
        <translation>INPUT：任意栅格图层。本地 GDAL 文件（GeoTIFF、VRT 镶嵌等）直接读取；网络图层（WMS/WMTS/XYZ）、虚拟图层和内存图层先通过 QGIS 按本次运行的分辨率读入临时 GeoTIFF。
EXTENT：只处理该范围（任意坐标参考系）。网络图层覆盖全球，必须填写。
RESOLUTION：模型运行时的地面分辨率，单位为厘米/像元。留空：取模型卡的 'resolution'（训练影像的分辨率）；0：取栅格自身的分辨率。栅格分辨率相差超过 5 % 时，会即时重采样（GDAL 变形 VRT），输出写在该格网上。以度为单位或 Web 墨卡托的栅格总是在该区域所在的 UTM 带中处理。
MAX_PIXELS（高级）：网络或虚拟图层的读取超过该像元数时拒绝执行；若磁盘和时间允许，可调大。
OUTPUT_VECTOR：可选的多边形，每个类别的每个连通区域一个，字段为 class_id、class_name、area_m2（其像元的地面面积）和 confidence（所选类别概率的均值）；默认 GeoPackage，按类别颜色设置样式。
MIN_AREA：仅用于多边形：小于该平方米数的区域在多边形化之前并入其最大的相邻区域（GDAL 筛除）。类别栅格本身不变。
SIMPLIFY：仅用于多边形：Douglas-Peucker 简化容差，单位为输出的地图单位（米制坐标参考系为米）；0 保留像元轮廓。
OUTPUT_AREAS：可选的 CSV，每个类别一行：class_id、class_name、pixels、area_m2、percent（占类别栅格有效像元的百分比）。同一张表也作为 CLASS_AREAS 结果（JSON）输出。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="154"/>
        <source>Cancelled: no output was written</source>
        <translation>已取消：未写出任何输出</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/map_base.py" line="183"/>
        <source>{}: {} px, {:.1f} m2, {:.2f} %</source>
        <translation>{}：{} 像元，{:.1f} 平方米，{:.2f} %</translation>
    </message>
</context>
<context>
    <name>PretrainAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="101"/>
        <source>Input rasters (unlabeled imagery)</source>
        <translation>输入栅格（无标注影像）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="103"/>
        <source>Or a folder of rasters</source>
        <translation>或一个栅格文件夹</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="106"/>
        <source>Bands (1-based, comma separated; empty = all)</source>
        <translation>波段（从 1 开始，逗号分隔；留空 = 全部）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="112"/>
        <source>Backbone</source>
        <translation>骨干网络</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="115"/>
        <source>Resume from OUTPUT_CHECKPOINT if it exists</source>
        <translation>若 OUTPUT_CHECKPOINT 存在则从其继续</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="122"/>
        <source>Output checkpoint</source>
        <translation>输出检查点</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="77"/>
        <source>Patch size (pixels)</source>
        <translation>图块大小（像素）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="78"/>
        <source>Batch size</source>
        <translation>批大小</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="79"/>
        <source>Epochs</source>
        <translation>训练轮数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="80"/>
        <source>Learning rate</source>
        <translation>学习率</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="207"/>
        <source>Cancelled: the state reached is saved in {}; run again with RESUME to continue</source>
        <translation>已取消：已达到的状态保存在 {}；使用 RESUME 再次运行即可继续</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="157"/>
        <source>{}: {} is not a folder</source>
        <translation>{}：{} 不是文件夹</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="161"/>
        <source>{}: choose at least one raster layer, or set {}</source>
        <translation>{}：请至少选择一个栅格图层，或设置 {}</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="211"/>
        <source>Diagnostic image: {}</source>
        <translation>诊断图像：{}</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="17"/>
        <source>Patches per epoch</source>
        <translation>每轮图块数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="17"/>
        <source>Random patches drawn per epoch; 0 = about one pass over the imagery.</source>
        <translation>每轮随机抽取的图块数；0 = 大约遍历影像一次。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="21"/>
        <source>Weight decay</source>
        <translation>权重衰减</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="21"/>
        <source>L2 penalty on the weights; keeps them small so training stays stable.</source>
        <translation>对权重的 L2 惩罚；使权重保持较小，训练更稳定。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="25"/>
        <source>Learning-rate warm-up steps</source>
        <translation>学习率预热步数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="30"/>
        <source>Random seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="30"/>
        <source>Same seed and inputs give the same patches and initial weights.</source>
        <translation>相同的种子和输入会得到相同的图块和初始权重。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="34"/>
        <source>Data loading worker processes</source>
        <translation>数据加载进程数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="34"/>
        <source>Processes that read patches while the network trains; 0 = read in the training process (safest inside QGIS).</source>
        <translation>在网络训练时读取图块的进程数；0 = 在训练进程中读取（在 QGIS 中最稳妥）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="39"/>
        <source>Diagnostic image every N steps</source>
        <translation>每 N 步输出诊断图像</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="39"/>
        <source>Steps between the diagnostic PNGs written next to the checkpoint; 0 = one per epoch.</source>
        <translation>在检查点旁写出诊断 PNG 的间隔步数；0 = 每轮一张。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="45"/>
        <source>Contrastive temperature</source>
        <translation>对比温度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="45"/>
        <source>NT-Xent temperature: lower values push harder on the most similar other patches (paper: 0.5).</source>
        <translation>NT-Xent 温度：值越低，对最相似的其他图块施加的区分力越强（论文：0.5）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="50"/>
        <source>Projection size</source>
        <translation>投影维度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="50"/>
        <source>Size of the embedding the contrastive loss compares (paper: 128).</source>
        <translation>对比损失所比较的嵌入向量维度（论文：128）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="54"/>
        <source>Projection hidden width</source>
        <translation>投影隐藏层宽度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="54"/>
        <source>Hidden width of the projection MLP; 0 = the encoder&apos;s channels.</source>
        <translation>投影 MLP 的隐藏层宽度；0 = 编码器的通道数。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="58"/>
        <source>Region threshold</source>
        <translation>区域阈值</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="58"/>
        <source>Share of the heat map&apos;s range a pixel must exceed to belong to the guided region (paper: 0.5).</source>
        <translation>像素值须超过热力图取值范围的这一比例，才属于引导区域（论文：0.5）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="63"/>
        <source>Region resolution</source>
        <translation>区域分辨率</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="63"/>
        <source>&apos;view&apos;: threshold the heat map upsampled to the view (paper&apos;s code); &apos;feature&apos;: threshold it at feature-map resolution.</source>
        <translation>“view”：在上采样到视图大小的热力图上取阈值（论文代码）；“feature”：在特征图分辨率上取阈值。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="68"/>
        <source>Heat map sign</source>
        <translation>热力图符号</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="68"/>
        <source>&apos;signed&apos;: the map divided by its maximum (paper&apos;s code); &apos;absolute&apos;: its magnitude.</source>
        <translation>“signed”：热力图除以其最大值（论文代码）；“absolute”：取其绝对值。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="73"/>
        <source>Region resize mode</source>
        <translation>区域缩放方式</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="73"/>
        <source>How a chosen region is resized back to the view size: &apos;nearest&apos; (paper&apos;s code) or &apos;bilinear&apos;.</source>
        <translation>选中的区域缩放回视图大小的方式：“nearest”（论文代码）或“bilinear”。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="78"/>
        <source>Smallest crop (share of the patch)</source>
        <translation>最小裁剪（占图块比例）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="78"/>
        <source>Smallest area of a random crop, as a share of the patch.</source>
        <translation>随机裁剪的最小面积，以占图块的比例表示。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="82"/>
        <source>Largest crop (share of the patch)</source>
        <translation>最大裁剪（占图块比例）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="82"/>
        <source>Largest area of a random crop, as a share of the patch.</source>
        <translation>随机裁剪的最大面积，以占图块的比例表示。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="86"/>
        <source>Random flips and quarter turns</source>
        <translation>随机翻转和 90 度旋转</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="86"/>
        <source>Overhead imagery has no &apos;up&apos;, so flipped and turned views are still the same ground.</source>
        <translation>俯视影像没有“上”方向，翻转和旋转后的视图仍是同一地面。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="91"/>
        <source>Colour jitter: brightness</source>
        <translation>颜色抖动：亮度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="91"/>
        <source>Strength of random brightness changes (per band on non-RGB rasters).</source>
        <translation>随机亮度变化的强度（非 RGB 栅格按波段分别处理）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="95"/>
        <source>Colour jitter: contrast</source>
        <translation>颜色抖动：对比度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="95"/>
        <source>Strength of random contrast changes (per band on non-RGB rasters).</source>
        <translation>随机对比度变化的强度（非 RGB 栅格按波段分别处理）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="99"/>
        <source>Colour jitter: saturation</source>
        <translation>颜色抖动：饱和度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="99"/>
        <source>Strength of random saturation changes (3-band rasters only).</source>
        <translation>随机饱和度变化的强度（仅限 3 波段栅格）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="103"/>
        <source>Colour jitter: hue</source>
        <translation>颜色抖动：色调</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="103"/>
        <source>Strength of random hue shifts (3-band rasters only).</source>
        <translation>随机色调偏移的强度（仅限 3 波段栅格）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="107"/>
        <source>Blur: smallest sigma</source>
        <translation>模糊：最小 sigma</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="107"/>
        <source>Smallest Gaussian blur radius (pixels) of a blurred view.</source>
        <translation>模糊视图的最小高斯模糊半径（像素）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="111"/>
        <source>Blur: largest sigma</source>
        <translation>模糊：最大 sigma</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="111"/>
        <source>Largest Gaussian blur radius (pixels) of a blurred view.</source>
        <translation>模糊视图的最大高斯模糊半径（像素）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="115"/>
        <source>Optimiser</source>
        <translation>优化器</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="115"/>
        <source>&apos;sgd_lars&apos;: SGD with LARS (paper, for large batches); &apos;adamw&apos;: learns faster with small batches on a CPU.</source>
        <translation>“sgd_lars”：带 LARS 的 SGD（论文，适合大批量）；“adamw”：在 CPU 上用小批量时学得更快。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="120"/>
        <source>SGD momentum</source>
        <translation>SGD 动量</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="120"/>
        <source>Momentum of the SGD optimiser (paper: 0.9).</source>
        <translation>SGD 优化器的动量（论文：0.9）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="124"/>
        <source>LARS trust coefficient</source>
        <translation>LARS 信任系数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="124"/>
        <source>Scales each layer&apos;s step to its weights&apos; size (paper: 0.001).</source>
        <translation>按各层权重的大小缩放该层的更新步长（论文：0.001）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="129"/>
        <source>Learning-rate reference batch</source>
        <translation>学习率参考批量</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="134"/>
        <source>Output stride</source>
        <translation>输出步幅</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="134"/>
        <source>16 or 8: input pixels per cluster-map pixel; 8 gives finer maps and is slower.</source>
        <translation>16 或 8：每个聚类图像素对应的输入像素数；8 得到更精细的图，但更慢。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="139"/>
        <source>Projector hidden width</source>
        <translation>投影器隐藏层宽度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="139"/>
        <source>Hidden width of the pixel projector (paper: 2048).</source>
        <translation>像素投影器的隐藏层宽度（论文：2048）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="143"/>
        <source>Pixel embedding size</source>
        <translation>像素嵌入维度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="143"/>
        <source>Size of the per-pixel embedding compared with the prototypes.</source>
        <translation>与原型比较的逐像素嵌入向量维度。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="147"/>
        <source>Predictor hidden width</source>
        <translation>预测器隐藏层宽度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="147"/>
        <source>Hidden width of the MLP that predicts the teacher&apos;s cluster features.</source>
        <translation>预测教师网络聚类特征的 MLP 的隐藏层宽度。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="151"/>
        <source>Teacher temperature</source>
        <translation>教师温度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="151"/>
        <source>Sharpness of the teacher&apos;s balanced (Sinkhorn) cluster assignments.</source>
        <translation>教师网络均衡（Sinkhorn）聚类分配的锐度。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="155"/>
        <source>Sinkhorn iterations</source>
        <translation>Sinkhorn 迭代次数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="155"/>
        <source>Balancing iterations that keep one cluster from taking every pixel.</source>
        <translation>均衡迭代次数，防止单个聚类占据所有像素。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="159"/>
        <source>Student temperature</source>
        <translation>学生温度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="159"/>
        <source>Sharpness of the student&apos;s cluster probabilities.</source>
        <translation>学生网络聚类概率的锐度。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="163"/>
        <source>Cluster pooling temperature</source>
        <translation>聚类池化温度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="163"/>
        <source>Sharpness of the attention that pools one feature per cluster.</source>
        <translation>为每个聚类池化一个特征的注意力的锐度。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="167"/>
        <source>Cluster contrast temperature</source>
        <translation>聚类对比温度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="167"/>
        <source>Temperature of the loss that tells the clusters&apos; features apart.</source>
        <translation>区分各聚类特征的损失的温度。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="171"/>
        <source>Weight of the self-distillation loss</source>
        <translation>自蒸馏损失权重</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="171"/>
        <source>Weight of the pixel term: each student pixel predicts the teacher&apos;s cluster of the same place in the other view.</source>
        <translation>像素项的权重：每个学生像素预测教师网络在另一视图同一位置的聚类。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="176"/>
        <source>Weight of the cluster contrast loss</source>
        <translation>聚类对比损失权重</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="176"/>
        <source>Weight of the cluster term: keeps the clusters distinct and drops unused ones.</source>
        <translation>聚类项的权重：使聚类彼此区分，并舍弃未使用的聚类。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="181"/>
        <source>Teacher momentum at the start</source>
        <translation>教师初始动量</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="181"/>
        <source>Share of the teacher kept at each step at the start; it follows the student more slowly as the momentum rises.</source>
        <translation>开始时每步保留的教师权重比例；动量越大，教师跟随学生越慢。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="186"/>
        <source>Teacher momentum at the end</source>
        <translation>教师最终动量</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="186"/>
        <source>Momentum reached at the last step (cosine ramp from the start value).</source>
        <translation>最后一步达到的动量（从初始值按余弦曲线上升）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="190"/>
        <source>View size (pixels)</source>
        <translation>视图大小（像素）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="190"/>
        <source>Both crops are resized to this size; 0 = the patch size.</source>
        <translation>两个裁剪都缩放到此大小；0 = 图块大小。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="194"/>
        <source>Smallest overlap of the two views</source>
        <translation>两个视图的最小重叠</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="194"/>
        <source>The two crops share at least this share of the patch, so there is common ground to compare.</source>
        <translation>两个裁剪至少共享图块的这一比例，以便有共同区域可比较。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="199"/>
        <source>Flip probability</source>
        <translation>翻转概率</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="199"/>
        <source>Probability that a view is flipped horizontally.</source>
        <translation>视图被水平翻转的概率。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="203"/>
        <source>Network shown in cluster maps</source>
        <translation>聚类图所用网络</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="203"/>
        <source>&apos;teacher&apos; (moving average, smoother maps) or &apos;student&apos;.</source>
        <translation>“teacher”（滑动平均，图更平滑）或“student”。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="208"/>
        <source>Denoiser size preset</source>
        <translation>去噪网络规模预设</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="208"/>
        <source>&apos;small&apos; (about 5 M parameters) trains on a CPU; &apos;large&apos; (about 30 M) wants a GPU.</source>
        <translation>“small”（约 500 万参数）可在 CPU 上训练；“large”（约 3000 万）需要 GPU。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="213"/>
        <source>Base channels</source>
        <translation>基础通道数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="213"/>
        <source>Channels of the denoiser&apos;s first level; 0 = from the preset.</source>
        <translation>去噪网络第一层级的通道数；0 = 取自预设。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="217"/>
        <source>Channel multipliers per level</source>
        <translation>各层级通道倍数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="217"/>
        <source>Comma-separated multipliers of the base channels, one per level; empty = from the preset.</source>
        <translation>基础通道数的倍数，以逗号分隔，每个层级一个；留空 = 取自预设。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="222"/>
        <source>Blocks per level</source>
        <translation>每层级块数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="222"/>
        <source>Residual blocks per level of the denoiser; 0 = from the preset.</source>
        <translation>去噪网络每个层级的残差块数；0 = 取自预设。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="226"/>
        <source>Levels with attention</source>
        <translation>使用注意力的层级</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="226"/>
        <source>Comma-separated levels that get self-attention; empty = from the preset, -1 = none.</source>
        <translation>使用自注意力的层级，以逗号分隔；留空 = 取自预设，-1 = 不使用。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="231"/>
        <source>Dropout</source>
        <translation>Dropout</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="231"/>
        <source>Dropout rate in the denoiser&apos;s blocks; 0 = none.</source>
        <translation>去噪网络各块中的 dropout 比率；0 = 不使用。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="235"/>
        <source>Diffusion steps (T)</source>
        <translation>扩散步数（T）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="235"/>
        <source>Number of noise levels of the diffusion process (usually 1000).</source>
        <translation>扩散过程的噪声级数（通常为 1000）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="239"/>
        <source>Noise schedule</source>
        <translation>噪声调度</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="239"/>
        <source>&apos;linear&apos; (Ho et al.) or &apos;cosine&apos; (Nichol and Dhariwal).</source>
        <translation>“linear”（Ho 等）或“cosine”（Nichol 和 Dhariwal）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="243"/>
        <source>First beta</source>
        <translation>起始 beta</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="243"/>
        <source>Noise added at the first step of the linear schedule (for T = 1000).</source>
        <translation>线性调度第一步加入的噪声（T = 1000 时）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="247"/>
        <source>Last beta</source>
        <translation>末尾 beta</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="247"/>
        <source>Noise added at the last step of the linear schedule (for T = 1000).</source>
        <translation>线性调度最后一步加入的噪声（T = 1000 时）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="251"/>
        <source>Weight average decay</source>
        <translation>权重滑动平均衰减</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="251"/>
        <source>Decay of the moving average of the weights that Diff-HRNet uses; closer to 1 = smoother.</source>
        <translation>Diff-HRNet 所用权重滑动平均的衰减；越接近 1 越平滑。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="256"/>
        <source>Gradient clipping</source>
        <translation>梯度裁剪</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="256"/>
        <source>Largest gradient norm per step; 0 = no clipping.</source>
        <translation>每步的最大梯度范数；0 = 不裁剪。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="260"/>
        <source>Sample images</source>
        <translation>样本图像数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="260"/>
        <source>Images generated from noise for the diagnostic PNG.</source>
        <translation>为诊断 PNG 从噪声生成的图像数。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="264"/>
        <source>Sampling steps</source>
        <translation>采样步数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="264"/>
        <source>DDIM steps per diagnostic sample; more is slower and closer to the full chain.</source>
        <translation>每个诊断样本的 DDIM 步数；越多越慢，也越接近完整链。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="269"/>
        <source>Sampling noise (eta)</source>
        <translation>采样噪声（eta）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="269"/>
        <source>0 = deterministic DDIM; 1 = fresh noise at every step as DDPM.</source>
        <translation>0 = 确定性 DDIM；1 = 像 DDPM 一样每步加入新噪声。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="273"/>
        <source>Sample clipping</source>
        <translation>样本截断</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="273"/>
        <source>Clip each predicted clean image to +- this (data is standardised); 0 = off.</source>
        <translation>将每个预测的干净图像截断到 ± 该值（数据已标准化）；0 = 关闭。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Colour jitter probability</source>
        <translation>颜色抖动概率</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Probability that a view gets random colour changes.</source>
        <translation>视图获得随机颜色变化的概率。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Greyscale probability</source>
        <translation>灰度化概率</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Probability that a view is turned grey (3-band rasters only).</source>
        <translation>视图被转为灰度的概率（仅限 3 波段栅格）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Blur probability</source>
        <translation>模糊概率</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Probability that a view is blurred.</source>
        <translation>视图被模糊的概率。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Learning-rate warm-up (share of all steps)</source>
        <translation>学习率预热（占总步数比例）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Share of all steps spent warming the learning rate up, when WARMUP_STEPS is 0.</source>
        <translation>WARMUP_STEPS 为 0 时，用于学习率预热的步数占总步数的比例。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="25"/>
        <source>Optimiser steps of linear learning-rate warm-up before the cosine decay; 0 = WARMUP_FRACTION of the run.</source>
        <translation>余弦衰减之前线性预热学习率的优化步数；0 = 取训练总步数的 WARMUP_FRACTION 比例。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="129"/>
        <source>LEARNING_RATE is the peak rate for a batch of this many patches; other batches scale it by LR_SCALING; 0 = use it as it is.</source>
        <translation>LEARNING_RATE 是批大小为该图块数时的峰值学习率；其他批大小按 LR_SCALING 缩放；0 = 直接使用。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Learning-rate scaling with the batch</source>
        <translation>学习率随批大小的缩放方式</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>How LEARNING_RATE follows the batch size: &apos;sqrt&apos; (x the square root of BATCH_SIZE / LR_REFERENCE_BATCH), &apos;linear&apos; or &apos;none&apos;.</source>
        <translation>LEARNING_RATE 随批大小变化的方式：“sqrt”（乘以 BATCH_SIZE / LR_REFERENCE_BATCH 的平方根）、“linear”或“none”。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Pixels per prototype</source>
        <translation>每个原型的像素数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>With PROTOTYPES 0: one prototype per this many feature-map pixels of a batch (8 to 256 prototypes).</source>
        <translation>PROTOTYPES 为 0 时：一个批次中每这么多个特征图像素设一个原型（8 到 256 个原型）。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>Encoder handed to fine-tuning</source>
        <translation>交给微调的编码器</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_base.py" line="122"/>
        <source>rsseg checkpoint (*.pt)</source>
        <translation>rsseg 检查点 (*.pt)</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_fields.py" line="280"/>
        <source>&apos;student&apos; (default: better after short runs) or &apos;teacher&apos; (moving average, as SlotCon); the checkpoint keeps both.</source>
        <translation>“student”（默认：短时间训练后更好）或“teacher”（滑动平均，同 SlotCon）；检查点会同时保留两者。</translation>
    </message>
</context>
<context>
    <name>PretrainDiffusionAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/pretrain_diffusion.py" line="15"/>
        <source>Pretrain a diffusion model (Diff-HRNet stage 1)</source>
        <translation>预训练扩散模型（Diff-HRNet 第一阶段）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_diffusion.py" line="18"/>
        <source>Teaches a denoising diffusion model (DDPM, epsilon prediction) the look of your unlabeled imagery, for any number of bands. The checkpoint is then used by rsseg:finetune with ARCHITECTURE diff_hrnet, which freezes the denoiser and fuses its features into an HRNet.

Inputs: raster layers and/or a folder of rasters (files ending in _label/_mask are skipped). BANDS selects 1-based bands (empty = all); fine-tuning must use the same bands.

Size of the run: each epoch draws PATCHES_PER_EPOCH random patches (0 = about one pass over the imagery), so the number of optimiser steps is EPOCHS x PATCHES_PER_EPOCH / BATCH_SIZE. To train for N steps, set EPOCHS 1 and PATCHES_PER_EPOCH N x BATCH_SIZE.

PRESET small (about 5 M parameters) trains on a CPU; large (about 30 M) wants a GPU. BASE_CHANNELS, CHANNEL_MULTS, BLOCKS_PER_LEVEL and ATTENTION_LEVELS override the preset. SCHEDULE linear or cosine, TIMESTEPS T (default 1000). The checkpoint keeps an exponential moving average of the weights (EMA_DECAY), which is what Diff-HRNet uses.

Check: after every epoch a PNG is written in &lt;checkpoint&gt;_diagnostics/: the top row shows real patches, the bottom row images the model generated from noise with SAMPLE_STEPS DDIM steps. They should come to resemble your imagery as training goes on.

With RESUME, an existing OUTPUT_CHECKPOINT is continued; cancelling saves the state reached.</source>
        <translation>让去噪扩散模型（DDPM，预测噪声 epsilon）学习无标注影像的外观，支持任意波段数。得到的检查点随后由 rsseg:finetune（ARCHITECTURE 为 diff_hrnet）使用：冻结去噪网络，并将其特征融合进 HRNet。

输入：栅格图层和/或一个栅格文件夹（以 _label/_mask 结尾的文件会被跳过）。BANDS 选择从 1 开始编号的波段（留空 = 全部）；微调时必须使用相同的波段。

训练规模：每个轮次随机抽取 PATCHES_PER_EPOCH 个图块（0 = 大约遍历一遍影像），因此优化步数为 EPOCHS x PATCHES_PER_EPOCH / BATCH_SIZE。若要训练 N 步，请设置 EPOCHS 为 1，PATCHES_PER_EPOCH 为 N x BATCH_SIZE。

PRESET small（约 500 万参数）可在 CPU 上训练；large（约 3000 万参数）需要 GPU。BASE_CHANNELS、CHANNEL_MULTS、BLOCKS_PER_LEVEL 和 ATTENTION_LEVELS 会覆盖预设。SCHEDULE 可选 linear 或 cosine，TIMESTEPS 为 T（默认 1000）。检查点保存权重的指数滑动平均（EMA_DECAY），Diff-HRNet 使用的正是它。

检查：每个轮次结束后在 &lt;checkpoint&gt;_diagnostics/ 中写出一张 PNG：上排为真实图块，下排为模型用 SAMPLE_STEPS 步 DDIM 从噪声生成的图像。随着训练进行，它们应越来越像你的影像。

勾选 RESUME 时会继续已有的 OUTPUT_CHECKPOINT；取消时会保存已达到的状态。</translation>
    </message>
</context>
<context>
    <name>PretrainGrassAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/pretrain_grass.py" line="21"/>
        <source>Pretrain a ResNet with GraSS (gradient-guided contrastive learning)</source>
        <translation>用 GraSS 预训练 ResNet（梯度引导的对比学习）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_grass.py" line="24"/>
        <source>Teaches a ResNet encoder what your imagery looks like without any labels, so that a segmentation model fine-tuned from it (rsseg:finetune, DeepLabV3+) needs fewer labelled pixels. Method: GraSS (Zhang et al., IEEE TGRS 2023).

How it works: random patches are cut from the rasters and each is shown twice, with different crops, flips, colour changes and blur. The network learns to recognise the two versions of a patch among all the others in the batch (contrastive learning). For the first WARMUP_EPOCHS it does just that. Afterwards, at every step, it first asks which part of each patch it relied on to recognise it (the gradient of its loss, as a heat map), keeps the box around the hottest area (usually one kind of object: a roof, a field, a patch of water) and learns on those boxes instead of the whole mixed scene. This makes the features object-level, which segmentation needs.

Inputs: raster layers and/or a folder of rasters (files ending in _label/_mask are skipped); any number of bands, BANDS selects 1-based bands (empty = all) and fine-tuning must use the same ones. PATCH_SIZE at least 64 (the paper uses 224). BATCH_SIZE at least 2; larger batches give more patches to contrast with and train better (the paper: 256).

Size of the run: each epoch draws PATCHES_PER_EPOCH random patches (0 = about one pass over the imagery); WARMUP_EPOCHS must be smaller than EPOCHS.

Learning rate: LEARNING_RATE is the peak rate for LR_REFERENCE_BATCH patches (4.8 for 256 with the default SGD + LARS optimiser, as the authors&apos; run); it is scaled to BATCH_SIZE by LR_SCALING: sqrt (default) multiplies it by the square root of BATCH_SIZE / LR_REFERENCE_BATCH (1.2 at a batch of 16), linear by the ratio itself. The first WARMUP_FRACTION of the steps warm up.

Check: after every epoch a PNG is written in &lt;checkpoint&gt;_diagnostics/: for a few patches, each view, its heat map (red = what the network relied on) and the chosen box. The log shows for every epoch the stage (1 warm-up, 2 guided), the loss, the share of views where a region was found and how much of the view it covers, and patches per second.

With RESUME, an existing OUTPUT_CHECKPOINT is continued; cancelling saves the state reached.</source>
        <translation>在没有任何标注的情况下让 ResNet 编码器学习你的影像的特征，使由它微调得到的分割模型（rsseg:finetune，DeepLabV3+）所需的标注像元更少。方法：GraSS（Zhang 等，IEEE TGRS 2023）。

工作原理：从栅格中随机裁取图块，每个图块以不同的裁剪、翻转、颜色变化和模糊呈现两次。网络要在批内所有图块中认出同一图块的两个版本（对比学习）。前 WARMUP_EPOCHS 轮只做这一步。之后每一步，它先找出自己识别每个图块时依赖的是哪一部分（其损失的梯度，即热力图），保留最“热”区域的外接框（通常是一类地物：屋顶、农田、水面），并在这些框上而不是整个混合场景上学习。这使特征达到对象级别，正是分割所需要的。

输入：栅格图层和/或一个栅格文件夹（以 _label/_mask 结尾的文件会被跳过）；波段数任意，BANDS 选择从 1 开始编号的波段（留空 = 全部），微调时必须使用相同的波段。PATCH_SIZE 至少为 64（论文使用 224）。BATCH_SIZE 至少为 2；批越大，可对比的图块越多，训练效果越好（论文：256）。

训练规模：每个轮次随机抽取 PATCHES_PER_EPOCH 个图块（0 = 大约遍历一遍影像）；WARMUP_EPOCHS 必须小于 EPOCHS。

学习率：LEARNING_RATE 是 LR_REFERENCE_BATCH 个图块时的峰值学习率（默认 SGD + LARS 优化器、256 个图块时为 4.8，与作者的训练相同）；按 LR_SCALING 换算到 BATCH_SIZE：sqrt（默认）乘以 BATCH_SIZE / LR_REFERENCE_BATCH 的平方根（批量为 16 时为 1.2），linear 乘以该比值本身。前 WARMUP_FRACTION 比例的步数用于预热。

检查：每个轮次结束后在 &lt;checkpoint&gt;_diagnostics/ 中写出一张 PNG：对几个图块分别显示每个视图、其热力图（红色 = 网络依赖的部分）和选中的框。日志显示每个轮次的阶段（1 预热，2 引导）、损失、找到区域的视图比例及其覆盖视图的面积比例，以及每秒处理的图块数。

勾选 RESUME 时会继续已有的 OUTPUT_CHECKPOINT；取消时会保存已达到的状态。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_grass.py" line="16"/>
        <source>Warm-up epochs (plain contrastive learning first)</source>
        <translation>预热轮数（先进行普通对比学习）</translation>
    </message>
</context>
<context>
    <name>PretrainSdclusterAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/pretrain_sdcluster.py" line="20"/>
        <source>Pretrain a ResNet with SDCluster (pixel clustering, shows its clusters)</source>
        <translation>用 SDCluster 预训练 ResNet（像元聚类，可查看其聚类）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_sdcluster.py" line="16"/>
        <source>Number of cluster prototypes</source>
        <translation>聚类原型数量</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/pretrain_sdcluster.py" line="23"/>
        <source>Teaches a ResNet encoder what your imagery looks like without any labels by clustering its pixels, so that a segmentation model fine-tuned from it (rsseg:finetune, DeepLabV3+) needs fewer labelled pixels. Method: SDCluster (Xu et al., ISPRS J. Photogramm. 2025). Unlike other pretraining, you can judge the result without labels: look at its clusters (rsseg:cluster_map).

How it works: every patch is shown twice, as two overlapping crops with flips and colour changes. A student network gives every pixel a probability over PROTOTYPES learnable cluster centres; a teacher network (a slowly moving average of the student) gives balanced cluster assignments (Sinkhorn-Knopp, so that no cluster swallows everything). On the ground both crops share, each student pixel learns to predict the teacher&apos;s cluster of the same place seen in the other crop. A second term pools one feature per cluster per patch and asks the student to recognise the teacher&apos;s feature of the same cluster among all the others, which keeps clusters meaningful and drops the unused ones.

Inputs: raster layers and/or a folder of rasters (files ending in _label/_mask are skipped); any number of bands, BANDS selects 1-based bands (empty = all) and fine-tuning must use the same ones. PATCH_SIZE at least 32 (two crops of it are made; the paper uses 224). PROTOTYPES: the number of clusters the network may use; 0 (default) = one per PIXELS_PER_PROTOTYPE feature-map pixels of a batch (100, as the paper), between 8 and 256 (the paper: 256 for batches of 128 patches); the cluster map can merge them into fewer.

Learning rate: LEARNING_RATE is the peak rate for LR_REFERENCE_BATCH patches (paper: 0.00125 per 128, AdamW, weight decay 0.05), scaled to BATCH_SIZE by LR_SCALING: sqrt (default) multiplies it by the square root of BATCH_SIZE / LR_REFERENCE_BATCH, linear by the ratio itself; set LR_REFERENCE_BATCH to 0 to use LEARNING_RATE as it is. The first WARMUP_FRACTION of the steps warm up. HANDOVER: the encoder fine-tuning starts from, the student (default: after a few hundred steps it probes better than the moving-average teacher, docs/results.md) or the teacher (SlotCon&apos;s choice, for long runs); both are kept in the checkpoint.

Check: after every epoch (or every DIAGNOSTICS_EVERY steps) a PNG is written in &lt;checkpoint&gt;_diagnostics/: a few patches beside the teacher&apos;s cluster map, one colour per prototype. Regions of one land cover should take one colour as training goes on. The log shows the two losses (sd, ctr) and how many clusters the teacher uses.

Advanced: OUTPUT_STRIDE 16 or 8 (finer cluster maps, slower), the temperatures, crop scales and minimum overlap, colour changes, the teacher momentum ramp (MOMENTUM_START to MOMENTUM_END) and CLUSTER_BRANCH (the network cluster maps use: teacher, or student).

With RESUME, an existing OUTPUT_CHECKPOINT is continued; cancelling saves the state reached.</source>
        <translation>通过对像元聚类，在没有任何标注的情况下让 ResNet 编码器学习你的影像的特征，使由它微调得到的分割模型（rsseg:finetune，DeepLabV3+）所需的标注像元更少。方法：SDCluster（Xu 等，ISPRS J. Photogramm. 2025）。与其他预训练不同，无需标注即可评判结果：查看其聚类（rsseg:cluster_map）。

工作原理：每个图块以两个相互重叠、带翻转和颜色变化的裁剪呈现两次。学生网络为每个像元给出在 PROTOTYPES 个可学习聚类中心上的概率；教师网络（学生网络的缓慢滑动平均）给出均衡的聚类分配（Sinkhorn-Knopp，使任何聚类都不会吞并全部像元）。在两个裁剪共有的地面上，每个学生像元学习预测教师网络在另一个裁剪中同一位置的聚类。第二项损失在每个图块中为每个聚类汇聚一个特征，要求学生网络在所有其他特征中认出教师网络同一聚类的特征，这使聚类保持有意义并淘汰未使用的聚类。

输入：栅格图层和/或一个栅格文件夹（以 _label/_mask 结尾的文件会被跳过）；波段数任意，BANDS 选择从 1 开始编号的波段（留空 = 全部），微调时必须使用相同的波段。PATCH_SIZE 至少为 32（会从中生成两个裁剪；论文使用 224）。PROTOTYPES：网络可使用的聚类数；0（默认）= 每批特征图中每 PIXELS_PER_PROTOTYPE 个像素一个原型（与论文相同，为 100），介于 8 与 256 之间（论文：每批 128 个图块时为 256）；聚类图可将其合并为更少的聚类。

学习率：LEARNING_RATE 是 LR_REFERENCE_BATCH 个图块时的峰值学习率（论文：每 128 个图块 0.00125，AdamW，权重衰减 0.05），按 LR_SCALING 换算到 BATCH_SIZE：sqrt（默认）乘以 BATCH_SIZE / LR_REFERENCE_BATCH 的平方根，linear 乘以该比值本身；将 LR_REFERENCE_BATCH 设为 0 则直接使用 LEARNING_RATE。前 WARMUP_FRACTION 比例的步数用于预热。HANDOVER：微调所用的编码器，学生网络（默认：训练几百步后，其线性探测结果优于滑动平均的教师网络，见 docs/results.md）或教师网络（SlotCon 的选择，适合长时间训练）；两者都保存在检查点中。

检查：每个轮次结束后（或每 DIAGNOSTICS_EVERY 步）在 &lt;checkpoint&gt;_diagnostics/ 中写出一张 PNG：几个图块与教师网络的聚类图并排显示，每个原型一种颜色。随着训练进行，同一土地覆盖的区域应呈现同一种颜色。日志显示两项损失（sd、ctr）以及教师网络使用的聚类数。

高级：OUTPUT_STRIDE 为 16 或 8（聚类图更精细，但更慢）、温度、裁剪尺度和最小重叠、颜色变化、教师动量的变化范围（MOMENTUM_START 到 MOMENTUM_END）以及 CLUSTER_BRANCH（聚类图使用的网络：teacher 或 student）。

勾选 RESUME 时会继续已有的 OUTPUT_CHECKPOINT；取消时会保存已达到的状态。</translation>
    </message>
</context>
<context>
    <name>ProbeAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="67"/>
        <source>Probe a pretrained model (linear probe vs random init)</source>
        <translation>探测预训练模型（线性探测对比随机初始化）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="70"/>
        <source>Tells in a few minutes whether pretraining learned anything, before hours of fine-tuning.

The network in CHECKPOINT (a GraSS or SDCluster pretraining, a diffusion pretraining, or a fine-tuned model) is frozen; a linear pixel classifier is fitted on its features over the labelled INPUT_IMAGES and scored (mIoU) on TEST_IMAGES. The same is done with the same network at random initialisation, its BatchNorm statistics recalibrated on your images. Each seed in SEEDS draws another random network and another sample of labelled pixels, the same for both networks.

How to read the result: DELTA is the mean, over the seeds, of pretrained minus random-init mIoU, and DELTA_SE its standard error. Pretraining learned something useful when DELTA is clearly above 0 and above twice its standard error. A DELTA near 0 means the features are no better than random ones: pretrain longer or check the pretraining log; a negative DELTA means they are worse.

LABELS: one class raster per image (in the same order), one class raster for all images, or one polygon layer with its class in LABEL_FIELD. Without TEST_IMAGES, the bottom quarter (HOLDOUT_FRACTION) of every image is scored and the rest fitted.

Outputs: an HTML report, an optional JSON file with the same numbers, and MIOU, RANDOM_MIOU, DELTA and DELTA_SE as numbers for models. Images are read whole: use a few images of up to a few thousand pixels per side.</source>
        <translation>几分钟内判断预训练是否学到了东西，免得白花几个小时做微调。

CHECKPOINT 中的网络（GraSS 或 SDCluster 预训练、扩散预训练，或已微调的模型）被冻结；在其特征上用已标注的 INPUT_IMAGES 拟合一个线性像素分类器，并在 TEST_IMAGES 上评分（mIoU）。对随机初始化的同一网络做同样的事，其 BatchNorm 统计量在您的影像上重新校准。SEEDS 中的每个种子抽取另一个随机网络和另一组已标注像素，两个网络使用相同的像素。

如何解读结果：DELTA 是各种子上“预训练 mIoU 减随机初始化 mIoU”的平均值，DELTA_SE 是其标准误。当 DELTA 明显大于 0 且大于两倍标准误时，说明预训练学到了有用的东西。DELTA 接近 0 表示特征并不比随机特征好：请延长预训练或检查预训练日志；DELTA 为负表示更差。

LABELS：每幅影像一个类别栅格（顺序相同）、所有影像共用一个类别栅格，或一个面图层（类别在 LABEL_FIELD 中）。未给出 TEST_IMAGES 时，每幅影像底部四分之一（HOLDOUT_FRACTION）用于评分，其余部分用于拟合。

输出：HTML 报告、可选的含相同数值的 JSON 文件，以及供模型使用的数值 MIOU、RANDOM_MIOU、DELTA 和 DELTA_SE。影像会被整幅读入：请使用少量、每边不超过几千像素的影像。</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="94"/>
        <source>Checkpoint to probe (empty = random init only)</source>
        <translation>要探测的检查点（留空 = 仅随机初始化）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="96"/>
        <source>Labelled training images</source>
        <translation>已标注的训练影像</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="98"/>
        <source>Labels (class rasters, or one polygon layer)</source>
        <translation>标注（类别栅格，或一个面图层）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="100"/>
        <source>Class field (polygon labels)</source>
        <translation>类别字段（面标注）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="102"/>
        <source>Test images (empty = hold out part of each image)</source>
        <translation>测试影像（留空 = 从每幅影像中留出一部分）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="105"/>
        <source>Test labels (class rasters, or one polygon layer)</source>
        <translation>测试标注（类别栅格，或一个面图层）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="108"/>
        <source>Seeds (comma separated)</source>
        <translation>随机种子（逗号分隔）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="110"/>
        <source>Output stride of the features</source>
        <translation>特征的输出步幅</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="115"/>
        <source>Bands (1-based, comma separated; empty = the checkpoint&apos;s)</source>
        <translation>波段（从 1 开始，逗号分隔；留空 = 检查点的波段）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="117"/>
        <source>Labelled pixels fitted per image</source>
        <translation>每幅影像用于拟合的已标注像素数</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="119"/>
        <source>Share of rows scored (no test images)</source>
        <translation>用于评分的行比例（无测试影像时）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="121"/>
        <source>SDCluster network probed</source>
        <translation>探测的 SDCluster 网络</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="124"/>
        <source>Diffusion: noise step of the denoiser features</source>
        <translation>扩散：去噪器特征的噪声步</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="126"/>
        <source>Backbone (no checkpoint only)</source>
        <translation>骨干网络（仅在无检查点时）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="128"/>
        <source>Recalibrate the pretrained network&apos;s BatchNorm too</source>
        <translation>同时重新校准预训练网络的 BatchNorm</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="135"/>
        <source>Report</source>
        <translation>报告</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="137"/>
        <source>Numbers (JSON)</source>
        <translation>数值（JSON）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="140"/>
        <source>Pretrained mIoU (%)</source>
        <translation>预训练 mIoU（%）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="141"/>
        <source>Random-init mIoU (%)</source>
        <translation>随机初始化 mIoU（%）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="142"/>
        <source>Difference, pretrained minus random (mIoU points)</source>
        <translation>差值，预训练减随机（mIoU 点）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="144"/>
        <source>Standard error of the difference</source>
        <translation>差值的标准误</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="152"/>
        <source>SEEDS: expected integers such as &apos;0,1,2,3,4&apos;, got {}</source>
        <translation>SEEDS：应为整数，例如 “0,1,2,3,4”，实际为 {}</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="155"/>
        <source>SEEDS: give at least one seed, e.g. 0,1,2,3,4</source>
        <translation>SEEDS：至少给出一个种子，例如 0,1,2,3,4</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="173"/>
        <source>{}: choose class rasters or a polygon layer</source>
        <translation>{}：请选择类别栅格或一个面图层</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="167"/>
        <source>{}: give one polygon layer, not several layers</source>
        <translation>{}：请只给一个面图层，而不是多个图层</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="178"/>
        <source>{}: {} label rasters for {} images; give one per image (same order) or one for all</source>
        <translation>{}：{} 个标注栅格对应 {} 幅影像；请为每幅影像给一个（顺序相同），或所有影像共用一个</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="192"/>
        <source>TEST_LABELS: given without TEST_IMAGES; add the test images</source>
        <translation>TEST_LABELS：给出了标注但没有 TEST_IMAGES；请添加测试影像</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="223"/>
        <source>OUTPUT_JSON: use a .json file name, got {}</source>
        <translation>OUTPUT_JSON：请使用 .json 文件名，实际为 {}</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="227"/>
        <source>cancelled; no report written</source>
        <translation>已取消；未写出报告</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="233"/>
        <source>pretrained mIoU {:.1f}, random init {:.1f}: DELTA {:+.1f} (standard error {})</source>
        <translation>预训练 mIoU {:.1f}，随机初始化 {:.1f}：DELTA {:+.1f}（标准误 {}）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="237"/>
        <source>random init mIoU {:.1f} (no checkpoint given)</source>
        <translation>随机初始化 mIoU {:.1f}（未给出检查点）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/probe.py" line="238"/>
        <source>Report: {}</source>
        <translation>报告：{}</translation>
    </message>
</context>
<context>
    <name>RssegAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/base.py" line="26"/>
        <source>Pretraining</source>
        <translation>预训练</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/base.py" line="27"/>
        <source>Fine-tuning</source>
        <translation>微调</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/base.py" line="28"/>
        <source>Inference</source>
        <translation>推理</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/base.py" line="29"/>
        <source>Evaluation</source>
        <translation>评估</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/base.py" line="94"/>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/base.py" line="144"/>
        <source>Cancelled: the run was stopped</source>
        <translation>已取消：运行已停止</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/guard.py" line="123"/>
        <source>{}: {} was reported as written but does not exist; nothing was saved there</source>
        <translation>{}：{} 被报告为已写入，但并不存在；该处没有保存任何内容</translation>
    </message>
    <message>
        <location filename="../plugin/extent.py" line="39"/>
        <source>{}: the extent {} is not a finite rectangle; draw the area again</source>
        <translation>{}：{}范围不是有限的矩形；请重新绘制区域</translation>
    </message>
    <message>
        <location filename="../plugin/extent.py" line="40"/>
        <source>{}: the extent {} has zero area ({:g}, {:g}, {:g}, {:g}); drag a rectangle over the area to process, or leave EXTENT empty for the whole raster</source>
        <translation>{}：{}范围面积为零（{:g}, {:g}, {:g}, {:g}）；请在要处理的区域上拖出一个矩形，或将 EXTENT 留空以处理整个栅格</translation>
    </message>
    <message>
        <location filename="../plugin/extent.py" line="44"/>
        <source>{}: unknown CRS &apos;{}&apos;; write it as [EPSG:code] (e.g. [EPSG:4326]) or leave it out to use the raster&apos;s CRS</source>
        <translation>{}：未知的坐标参考系 '{}'；请写成 [EPSG:代码]（例如 [EPSG:4326]），或省略以使用栅格的坐标参考系</translation>
    </message>
    <message>
        <location filename="../plugin/extent.py" line="47"/>
        <source>{}: cannot read an extent from {!r}; use &apos;xmin,xmax,ymin,ymax [EPSG:code]&apos;</source>
        <translation>{}：无法从 {!r} 读取范围；请使用 'xmin,xmax,ymin,ymax [EPSG:代码]'</translation>
    </message>
    <message>
        <location filename="../plugin/extent.py" line="49"/>
        <source>given</source>
        <translation>给定的</translation>
    </message>
    <message>
        <location filename="../plugin/extent.py" line="50"/>
        <source>{}: the extent is in {}, but the raster has no CRS to transform it to; give the extent in the raster&apos;s coordinates without a CRS, or georeference the raster</source>
        <translation>{}：范围位于 {}，但栅格没有可转换到的坐标参考系；请以栅格坐标给出不带坐标参考系的范围，或为栅格设置地理参考</translation>
    </message>
    <message>
        <location filename="../plugin/extent.py" line="54"/>
        <source>{}: the extent cannot be transformed from {} to the raster&apos;s {} ({}); give it in the raster&apos;s CRS</source>
        <translation>{}：范围无法从 {} 转换到栅格的 {}（{}）；请以栅格的坐标参考系给出</translation>
    </message>
    <message>
        <location filename="../plugin/extent.py" line="57"/>
        <source>in the raster&apos;s CRS ({})</source>
        <translation>在栅格坐标参考系（{}）中的</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/base.py" line="30"/>
        <source>Tools</source>
        <translation>工具</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/base.py" line="44"/>
        <source>BANDS: expected 1-based band numbers such as &apos;1,2,3&apos;, got {}</source>
        <translation>BANDS：应为从 1 开始的波段编号，例如“1,2,3”，当前为 {}</translation>
    </message>
    <message>
        <location filename="../plugin/dependencies.py" line="14"/>
        <source>Run &apos;make setup&apos; in the rsseg plugin folder (it installs torch==2.13.0, onnxruntime and onnx where QGIS&apos;s Python finds them), or install them yourself into a venv in the plugin folder, which rsseg adds to QGIS&apos;s path: /usr/bin/python3 -m venv --system-site-packages .venv &amp;&amp; .venv/bin/python -m pip install {packages}</source>
        <translation>请在 rsseg 插件文件夹中运行“make setup”（它会把 torch==2.13.0、onnxruntime 和 onnx 安装到 QGIS 的 Python 能找到的位置），或自行安装到插件文件夹中的虚拟环境（rsseg 会把它加入 QGIS 的路径）：/usr/bin/python3 -m venv --system-site-packages .venv &amp;&amp; .venv/bin/python -m pip install {packages}</translation>
    </message>
    <message>
        <location filename="../plugin/dependencies.py" line="33"/>
        <source>rsseg needs the Python package(s) {}, which QGIS cannot import.</source>
        <translation>rsseg 需要 Python 包 {}，但 QGIS 无法导入它们。</translation>
    </message>
</context>
<context>
    <name>RssegLayers</name>
    <message>
        <location filename="../plugin/raster_adapter.py" line="124"/>
        <source>{parameter}: no raster layer given</source>
        <translation>{parameter}：未给出栅格图层</translation>
    </message>
    <message>
        <location filename="../plugin/layers.py" line="32"/>
        <source>{parameter}: layer &apos;{layer}&apos; comes from the &apos;{provider}&apos; provider (web or virtual layer); rsseg reads {supported}. Save it first with Raster &gt; Conversion &gt; Translate (or &apos;Export &gt; Save As...&apos;) and use the saved file.</source>
        <translation>{parameter}：图层“{layer}”来自“{provider}”数据提供程序（网络或虚拟图层）；rsseg 读取的是 {supported}。请先用 栅格 &gt; 转换 &gt; 转换格式（或“导出 &gt; 另存为...”）保存，再使用保存后的文件。</translation>
    </message>
    <message>
        <location filename="../plugin/layers.py" line="41"/>
        <source>{parameter}: layer &apos;{layer}&apos; is not a local file ({source}); rsseg reads {supported}</source>
        <translation>{parameter}：图层“{layer}”不是本地文件（{source}）；rsseg 读取的是 {supported}</translation>
    </message>
    <message>
        <location filename="../plugin/layers.py" line="51"/>
        <source>{parameter}: choose at least one raster layer</source>
        <translation>{parameter}：请至少选择一个栅格图层</translation>
    </message>
    <message>
        <location filename="../plugin/layers.py" line="77"/>
        <source>{parameter}: no vector layer given</source>
        <translation>{parameter}：未给出矢量图层</translation>
    </message>
    <message>
        <location filename="../plugin/layers.py" line="82"/>
        <source>{parameter}: set it to the field holding the class of each polygon (fields of &apos;{layer}&apos;: {names})</source>
        <translation>{parameter}：请设置为保存各多边形类别的字段（“{layer}”的字段：{names}）</translation>
    </message>
    <message>
        <location filename="../plugin/layers.py" line="113"/>
        <source>{parameter}: layer &apos;{layer}&apos; has no polygon with a value in &apos;{field}&apos;</source>
        <translation>{parameter}：图层“{layer}”中没有在“{field}”字段上有值的多边形</translation>
    </message>
    <message>
        <location filename="../plugin/layers.py" line="121"/>
        <source>{parameter}: class ids must be 0..{largest}; found {bad}</source>
        <translation>{parameter}：类别编号必须在 0..{largest} 之间；发现 {bad}</translation>
    </message>
    <message>
        <location filename="../plugin/layers.py" line="128"/>
        <source>{parameter}: {count} distinct classes; at most {largest}</source>
        <translation>{parameter}：共有 {count} 个不同类别；最多 {largest} 个</translation>
    </message>
    <message>
        <location filename="../plugin/layers.py" line="99"/>
        <source>{parameter}: could not read the polygons of &apos;{layer}&apos;: {error}</source>
        <translation>{parameter}：无法读取“{layer}”的多边形：{error}</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="73"/>
        <source>RESOLUTION: cannot measure ground distances in the CRS of &apos;{layer}&apos;</source>
        <translation>RESOLUTION：无法在“{layer}”的坐标参考系中量算地面距离</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="129"/>
        <source>{parameter}: layer &apos;{layer}&apos; is not valid (its source cannot be read)</source>
        <translation>{parameter}：图层“{layer}”无效（无法读取其数据源）</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="134"/>
        <source>{parameter}: reading &apos;{layer}&apos; ({provider} provider) as {width} x {height} px at {step:.4g} map units per pixel</source>
        <translation>{parameter}：正在读取“{layer}”（{provider} 数据提供程序），大小 {width} x {height} 像素，每像素 {step:.4g} 地图单位</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="152"/>
        <source>INPUT: layer &apos;{layer}&apos; has pixels of an unsupported type ({type})</source>
        <translation>INPUT：图层“{layer}”的像素类型不受支持（{type}）</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="161"/>
        <source>INPUT: cannot create the temporary copy {path} ({error})</source>
        <translation>INPUT：无法创建临时副本 {path}（{error}）</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="197"/>
        <source>INPUT: layer &apos;{layer}&apos; returned no data for {area}</source>
        <translation>INPUT：图层“{layer}”在 {area} 范围内没有返回数据</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="93"/>
        <source>EXTENT: layer &apos;{layer}&apos; is a web or tile layer (or has no finite extent): set EXTENT to the area to segment</source>
        <translation>EXTENT：图层“{layer}”是网络或切片图层（或没有有限范围）：请将 EXTENT 设为要分割的区域</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="103"/>
        <source>RESOLUTION: layer &apos;{layer}&apos; has no pixel size of its own; set RESOLUTION (cm/px on the ground)</source>
        <translation>RESOLUTION：图层“{layer}”没有自身的像元大小；请设置 RESOLUTION（地面厘米/像元）</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="111"/>
        <source>MAX_PIXELS: reading &apos;{layer}&apos; over this extent at {step:.4g} map units per pixel needs {width} x {height} = {pixels:,} pixels, above MAX_PIXELS ({limit:,}). Choose a smaller EXTENT or a coarser RESOLUTION, or raise MAX_PIXELS (advanced) if the disk and time allow.</source>
        <translation>MAX_PIXELS：以每像元 {step:.4g} 地图单位在此范围内读取“{layer}”需要 {width} x {height} = {pixels:,} 像元，超过 MAX_PIXELS（{limit:,}）。请选择更小的 EXTENT 或更粗的 RESOLUTION；若磁盘空间和时间允许，也可调大 MAX_PIXELS（高级）。</translation>
    </message>
    <message>
        <location filename="../plugin/raster_adapter.py" line="189"/>
        <source>Cancelled: no output was written</source>
        <translation>已取消：未写出任何输出</translation>
    </message>
</context>
<context>
    <name>SegmentAlgorithm</name>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="32"/>
        <source>Segment raster with an ONNX model</source>
        <translation>用 ONNX 模型分割栅格</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="53"/>
        <source>ONNX model</source>
        <translation>ONNX 模型</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="54"/>
        <source>Bands (1-based, comma separated; empty: from the model)</source>
        <translation>波段（从 1 开始，逗号分隔；留空：取自模型）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="56"/>
        <source>Tile size in pixels (0: from the model)</source>
        <translation>瓦片大小（像元，0：取自模型）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="59"/>
        <source>Tile overlap in % (empty: from the model, else 15)</source>
        <translation>瓦片重叠 %（留空：取自模型，否则为 15）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="62"/>
        <source>Batch size (0: automatic)</source>
        <translation>批大小（0：自动）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="66"/>
        <source>CPU threads (0: all cores)</source>
        <translation>CPU 线程数（0：全部核心）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="72"/>
        <source>Class map</source>
        <translation>类别图</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="73"/>
        <source>Confidence (probability of the chosen class)</source>
        <translation>置信度（所选类别的概率）</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="101"/>
        <source>Execution provider: {}</source>
        <translation>执行提供程序：{}</translation>
    </message>
    <message>
        <location filename="../plugin/algorithms/segment.py" line="35"/>
        <source>Classifies every pixel of a raster with an ONNX segmentation model: rsseg models (fine-tuned or cluster maps) and Deepness models alike.

The raster is cut into overlapping tiles; overlapping class scores are averaged with smooth weights, so tile borders leave no seams. Reading, inference and writing overlap, and memory does not grow with the raster&apos;s size.

MODEL: an .onnx file. Its model card (class names, colours, bands, normalisation, tile size) is read from the file. Models without one follow the Deepness rules: first N bands, values / 255.
BANDS: 1-based raster bands fed to the model, e.g. &apos;4,3,2&apos; (empty: from the model card, else the first N).
TILE_SIZE, OVERLAP (% of a tile), BATCH_SIZE: 0 or empty take the model card&apos;s values.
DEVICE: auto uses the GPU (CUDA) when onnxruntime has it; the provider used is reported as PROVIDER.
OUTPUT: class raster (uint8, 255 = nodata) with the model&apos;s colours and class names.
CONFIDENCE: optional float32 raster with the winning class&apos;s probability.</source>
        <translation>用 ONNX 分割模型对栅格的每个像元分类：rsseg 模型（微调模型或聚类图）和 Deepness 模型均可。

栅格被切分为相互重叠的瓦片；重叠处的类别得分以平滑权重取平均，因此瓦片边界不留接缝。读取、推理和写出同时进行，内存占用不随栅格大小增长。

MODEL：.onnx 文件。其模型卡（类别名称、颜色、波段、归一化、瓦片大小）从文件中读取。没有模型卡的模型遵循 Deepness 规则：前 N 个波段，数值 / 255。
BANDS：输入模型的栅格波段，从 1 开始编号，例如 '4,3,2'（留空：取自模型卡，否则为前 N 个波段）。
TILE_SIZE、OVERLAP（瓦片的 %）、BATCH_SIZE：0 或留空时取模型卡中的值。
DEVICE：auto 在 onnxruntime 支持时使用 GPU（CUDA）；实际使用的执行提供程序以 PROVIDER 报告。
OUTPUT：类别栅格（uint8，255 = 无数据），带有模型的颜色和类别名称。
CONFIDENCE：可选的 float32 栅格，为获胜类别的概率。</translation>
    </message>
</context>
</TS>
